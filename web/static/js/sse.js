// sse.js: server-sent events over fetch(). EventSource cannot send an Authorization header, so
// the stream is read from a ReadableStream and parsed here (the text/event-stream format of the
// HTML standard), and a dropped stream is resumed with Last-Event-ID.

import { authHeaders, problemFrom } from './api.js';

/**
 * parseChunk feeds text into the parser state and calls emit(event) for every complete event:
 * { type, data, id }. It keeps a partial line or event in state for the next chunk.
 */
export function feed(state, text, emit) {
  state.buf += text;
  let nl;
  while ((nl = state.buf.search(/\r\n|\r|\n/)) >= 0) {
    const line = state.buf.slice(0, nl);
    const width = state.buf.startsWith('\r\n', nl) ? 2 : 1;
    if (state.buf[nl] === '\r' && nl + 1 === state.buf.length) break; // a CR that may be half of CRLF
    state.buf = state.buf.slice(nl + width);
    if (line === '') {
      if (state.data.length) {
        emit({ type: state.type || 'message', data: state.data.join('\n'), id: state.lastId });
      }
      state.type = '';
      state.data = [];
      continue;
    }
    if (line.startsWith(':')) continue; // a comment: heartbeat
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') state.type = value;
    else if (field === 'data') state.data.push(value);
    else if (field === 'id' && !value.includes('\0')) state.lastId = value;
    else if (field === 'retry' && /^\d+$/.test(value)) state.retry = Number(value);
  }
}

/**
 * subscribe opens path as an event stream and keeps it open: on a drop it waits the server's
 * retry time and resumes from the last id. handlers: onEvent(ev) (return false to close for
 * good), onStatus('open' | 'retrying' | 'closed', problem?). Returns close().
 * A refusal (4xx) is reported with onStatus('closed', problem) and not retried.
 */
export function subscribe(path, { onEvent, onStatus = () => {}, lastEventId = '' }) {
  const ctl = new AbortController();
  const state = { buf: '', type: '', data: [], lastId: lastEventId, retry: 3000 };
  let done = false;
  const close = () => { done = true; ctl.abort(); };

  (async () => {
    while (!done) {
      try {
        const headers = authHeaders({ Accept: 'text/event-stream' });
        if (state.lastId) headers['Last-Event-ID'] = state.lastId;
        const resp = await fetch(path, { headers, signal: ctl.signal, cache: 'no-store' });
        if (!resp.ok) {
          const p = await problemFrom(resp);
          if (resp.status >= 400 && resp.status < 500 && resp.status !== 429) {
            done = true;
            onStatus('closed', p);
            return;
          }
          throw p;
        }
        onStatus('open');
        const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
        state.buf = '';
        state.type = '';
        state.data = [];
        for (;;) {
          const { value, done: eof } = await reader.read();
          if (eof) break;
          feed(state, value, (ev) => {
            if (!done && onEvent(ev) === false) close();
          });
          if (done) return;
        }
      } catch (err) {
        if (done || err.name === 'AbortError') return;
      }
      if (done) return;
      onStatus('retrying');
      await new Promise((r) => setTimeout(r, state.retry));
    }
  })();
  return close;
}
