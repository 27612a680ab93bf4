// create.js: the create wizard: basic information → storage → schedule → review → create.
// Every step's form stays in the page (hidden when not current), so a problem answered by the
// gateway lands next to its field and the wizard jumps to the step that holds it.

import { api } from '../api.js';
import { h, fill, loading, problemBox, fieldError, showFieldErrors, clearFieldErrors, clearAsEdited, describeFlavor, money, duration, bytes, when, whenBoth, zoneLabel, getClusterZone, browserZone, toast } from '../ui.js';
import { hourChoices } from './hours.js';

const STEPS = ['Basic information', 'Storage', 'Schedule', 'Review'];
const NAME_RE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** stepOf says which step holds a field the gateway complained about. */
export function stepOf(field) {
  if (field.startsWith('schedule')) return 2;
  return 0;
}

export function render(root, ctx) {
  const head = h('div', { class: 'page-head' }, h('h1', {}, 'New container'));
  const body = h('div', {}, loading('Loading the image catalog and flavors'));
  root.append(head, body);
  let closed = false;
  Promise.all([api.images(), api.flavors(), api.cluster()]).then(([images, flavors, cluster]) => {
    if (closed) return;
    ctx.cluster = cluster;
    fill(body, wizard(ctx, images, flavors, cluster));
  }).catch((err) => { if (!closed) fill(body, problemBox(err, { retry: () => ctx.go('#/new') })); });
  return () => { closed = true; };
}

function wizard(ctx, images, flavors, cluster) {
  let step = 0;
  const projects = (cluster.projects || []).map((p) => p.name);
  const form = h('form', { class: 'wizard', novalidate: true });

  // Step 1: basic information.
  const project = h('select', { id: 'project', 'data-field': 'project' }, projects.map((p) => h('option', { value: p }, p)));
  const name = h('input', { id: 'name', 'data-field': 'name', autocomplete: 'off', spellcheck: 'false', maxlength: 63, 'aria-describedby': 'name-help err-name', required: true });
  const imageSel = h('select', { id: 'image', 'data-field': 'image', 'aria-describedby': 'image-info err-image' },
    h('option', { value: '' }, images.length ? 'Choose an image…' : 'The catalog is empty'),
    images.map((im) => h('option', { value: im.name }, im.name)),
    h('option', { value: '__path' }, 'An image in my HFS directories…'));
  const imagePath = h('input', { id: 'image-path', placeholder: `${(cluster.binds || [])[1] || '/work/you'}/my.sif`, hidden: true, 'aria-label': 'Image path in your HFS directories' });
  const imageInfo = h('div', { id: 'image-info', class: 'image-info' });
  const showImage = () => {
    imagePath.hidden = imageSel.value !== '__path';
    const im = images.find((x) => x.name === imageSel.value);
    if (!im) { imageInfo.replaceChildren(); return; }
    const labels = Object.entries(im.labels || {});
    fill(imageInfo,
      h('p', { class: 'muted small' }, [im.type, im.arch, bytes(im.size), im.created ? `built ${when(im.created)}` : null].filter(Boolean).join(' · ')),
      labels.length ? h('ul', { class: 'labels', 'aria-label': 'Image labels' }, labels.map(([k, v]) => h('li', {}, h('span', { class: 'k' }, k), h('span', { class: 'v' }, v)))) : h('p', { class: 'muted small' }, 'No labels.'));
  };
  imageSel.addEventListener('change', showImage);
  const flavorBox = h('fieldset', { class: 'flavors', 'data-field': 'flavor', 'aria-describedby': 'err-flavor' },
    h('legend', {}, 'Flavor'),
    flavors.map((f, i) => h('label', { class: 'flavor' },
      h('input', { type: 'radio', name: 'flavor', value: f.name, checked: i === 0 && flavors.length === 1 }),
      h('span', { class: 'fname' }, f.name),
      h('span', { class: 'fdesc' }, describeFlavor(f)),
      h('span', { class: 'fdesc muted' }, `time limit ${duration(f.time_limit_seconds)} · ${f.partition}`))),
    fieldError('flavor'));
  const command = h('textarea', { id: 'command', 'data-field': 'command', rows: 4, spellcheck: 'false', placeholder: 'python train.py --epochs 10', 'aria-describedby': 'command-help err-command' });
  const envRows = h('div', { class: 'env-rows' });
  const addEnv = (n = '', v = '') => {
    const i = envRows.children.length;
    const row = h('div', { class: 'env-row' },
      h('input', { 'aria-label': `Variable ${i + 1} name`, class: 'env-name', value: n, placeholder: 'NAME', spellcheck: 'false', 'data-field': `env[${i}].name` }),
      h('input', { 'aria-label': `Variable ${i + 1} value`, class: 'env-value', value: v, placeholder: 'value', spellcheck: 'false', 'data-field': `env[${i}].value` }),
      h('button', { type: 'button', class: 'btn small ghost', 'aria-label': `Remove variable ${i + 1}`, onclick: () => { row.remove(); renumber(); } }, 'Remove'),
      fieldError(`env[${i}].name`), fieldError(`env[${i}].value`));
    envRows.append(row);
    return row;
  };
  const renumber = () => [...envRows.children].forEach((row, i) => {
    const [n, v] = row.querySelectorAll('input');
    n.dataset.field = `env[${i}].name`; v.dataset.field = `env[${i}].value`;
    n.setAttribute('aria-label', `Variable ${i + 1} name`); v.setAttribute('aria-label', `Variable ${i + 1} value`);
    const errs = row.querySelectorAll('[data-error-for]');
    errs[0].dataset.errorFor = `env[${i}].name`; errs[1].dataset.errorFor = `env[${i}].value`;
  });

  const step1 = h('section', { class: 'step', 'aria-labelledby': 'step-0' },
    h('h2', { id: 'step-0' }, 'Basic information'),
    projects.length > 1 ? field('project', 'Project', project, 'The Slurm account the work is charged to.') : h('p', { class: 'muted' }, `Project: `, h('strong', {}, projects[0] || '(none: ask an admin to add you to a project)')),
    field('name', 'Name', name, 'Lower-case letters, digits and “-”, up to 63 characters.'),
    h('div', { class: 'field' }, h('label', { for: 'image' }, 'Image'), imageSel, imagePath, imageInfo, fieldError('image')),
    flavorBox,
    field('command', 'Command', command, 'Run by /bin/sh -c inside the container.'),
    h('fieldset', { class: 'env' }, h('legend', {}, 'Environment'), envRows, fieldError('env'),
      h('button', { type: 'button', class: 'btn small', onclick: () => addEnv().querySelector('input').focus() }, 'Add variable')));

  // Step 2: storage (read-only: the gateway binds HFS and ships logs itself).
  const cosKey = h('code', {});
  const step2 = h('section', { class: 'step', 'aria-labelledby': 'step-1', hidden: true },
    h('h2', { id: 'step-1' }, 'Storage'),
    h('p', { class: 'muted' }, 'Your HFS directories are bound into the container at the same paths; nothing to set up.'),
    h('table', { class: 'kv' }, h('tbody', {},
      (cluster.binds || []).map((b, i) => h('tr', {}, h('th', { scope: 'row' }, i === 0 ? 'HFS home' : 'HFS work'), h('td', {}, h('code', {}, b), ' → ', h('code', {}, b)))),
      h('tr', {}, h('th', { scope: 'row' }, 'Logs in COS'), h('td', {}, cosKey, h('p', { class: 'muted small' }, 'Tailed live while the task runs, sealed as one object when it ends; downloadable from the task.'))))));

  // Step 3: schedule.
  const manual = h('input', { type: 'radio', name: 'kind', value: 'manual', id: 'kind-manual', checked: true });
  const at = h('input', { type: 'radio', name: 'kind', value: 'at', id: 'kind-at' });
  const daySel = h('select', { id: 'sched-day', 'aria-label': 'Day' });
  const hourSel = h('select', { id: 'sched-hour', 'data-field': 'schedule.at', 'aria-label': 'Hour', 'aria-describedby': 'hour-both err-schedule-at' });
  const hourBoth = h('p', { id: 'hour-both', class: 'muted small' });
  const picker = h('div', { class: 'picker', hidden: true },
    h('div', { class: 'row wrap' }, h('label', { for: 'sched-day' }, 'Day'), daySel, h('label', { for: 'sched-hour' }, `Hour (${zoneLabel(getClusterZone())})`), hourSel),
    hourBoth);
  let choices = [];
  const fillDays = (nextWholeHour) => {
    choices = hourChoices(nextWholeHour, getClusterZone(), browserZone, 14);
    const days = [...new Set(choices.map((c) => c.day))];
    fill(daySel, days.map((d) => h('option', { value: d }, choices.find((c) => c.day === d).dayLabel)));
    fillHours();
  };
  const fillHours = () => {
    const keep = hourSel.value;
    fill(hourSel, choices.filter((c) => c.day === daySel.value).map((c) => h('option', { value: c.iso, selected: c.iso === keep }, c.label)));
    showHour();
  };
  const showHour = () => {
    const c = choices.find((x) => x.iso === hourSel.value);
    hourBoth.textContent = c ? `Starts at ${whenBoth(c.iso)}. The job becomes eligible then; Slurm starts it on its next pass.` : '';
  };
  daySel.addEventListener('change', fillHours);
  hourSel.addEventListener('change', showHour);
  const onKind = () => { picker.hidden = !at.checked; };
  manual.addEventListener('change', onKind);
  at.addEventListener('change', onKind);
  fillDays(cluster.next_whole_hour);
  const step3 = h('section', { class: 'step', 'aria-labelledby': 'step-2', hidden: true },
    h('h2', { id: 'step-2' }, 'Schedule'),
    h('fieldset', { class: 'kinds', 'data-field': 'schedule.kind' }, h('legend', {}, 'When should a start run the task?'),
      h('label', { class: 'choice' }, manual, h('span', {}, h('strong', {}, 'Manual'), h('span', { class: 'muted' }, ' — as soon as you start it'))),
      h('label', { class: 'choice' }, at, h('span', {}, h('strong', {}, 'At a whole hour'), h('span', { class: 'muted' }, ` — from the next whole hour on, in the cluster's time zone (${zoneLabel(getClusterZone())})`))),
      fieldError('schedule.kind')),
    picker, fieldError('schedule.at'));

  // Step 4: review.
  const review = h('div', {});
  const step4 = h('section', { class: 'step', 'aria-labelledby': 'step-3', hidden: true }, h('h2', { id: 'step-3' }, 'Review'), review);

  const status = h('div', { class: 'form-status' });
  const back = h('button', { type: 'button', class: 'btn' }, 'Back');
  const next = h('button', { type: 'submit', class: 'btn primary' }, 'Next');
  const steps = [step1, step2, step3, step4];
  const stepper = h('ol', { class: 'stepper' }, STEPS.map((label, i) => h('li', {}, h('button', { type: 'button', 'data-step': i, onclick: () => go(i, true) }, h('span', { class: 'n' }, i + 1), h('span', { class: 'l' }, label)))));

  const spec = () => {
    const flavor = form.querySelector('input[name=flavor]:checked')?.value || '';
    const env = [...envRows.children].map((row) => { const [n, v] = row.querySelectorAll('input'); return { name: n.value.trim(), value: v.value }; }).filter((e) => e.name || e.value);
    return {
      project: projects.length > 1 ? project.value : (projects[0] || ''),
      name: name.value.trim(),
      image: imageSel.value === '__path' ? imagePath.value.trim() : imageSel.value,
      flavor, command: command.value, env,
      schedule: at.checked ? { kind: 'at', at: hourSel.value } : { kind: 'manual' },
    };
  };

  // check finds the problems a step can see without the gateway, as field errors.
  const check = (i) => {
    const s = spec();
    const errs = [];
    if (i === 0) {
      if (!NAME_RE.test(s.name)) errs.push({ field: 'name', detail: 'Use 1-63 lower-case letters, digits or “-”, starting and ending with a letter or digit.' });
      if (!s.image) errs.push({ field: 'image', detail: 'Choose an image.' });
      if (!s.flavor) errs.push({ field: 'flavor', detail: 'Choose a flavor.' });
      if (!s.command.trim()) errs.push({ field: 'command', detail: 'Enter the command to run.' });
      s.env.forEach((e, k) => { if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(e.name)) errs.push({ field: `env[${k}].name`, detail: 'Letters, digits and “_”, not starting with a digit.' }); });
    }
    if (i === 2 && s.schedule.kind === 'at' && !s.schedule.at) errs.push({ field: 'schedule.at', detail: 'Choose an hour.' });
    return errs;
  };

  const go = async (i, fromStepper = false) => {
    if (fromStepper && i > step) {
      for (let k = step; k < i; k++) {
        const errs = check(k);
        if (errs.length) { show(k); showFieldErrors(form, { errors: errs }); return; }
      }
    }
    show(i);
    if (i === 1) cosKey.textContent = (cluster.log_object || '').replace('{project}', spec().project).replace('{container}', '<container id>').replaceAll('{task}', '<task id>');
    if (i === 2) { try { const c = await api.cluster(); if (c.next_whole_hour !== cluster.next_whole_hour) { cluster.next_whole_hour = c.next_whole_hour; fillDays(c.next_whole_hour); } } catch { /* keep the hours we have */ } }
    if (i === 3) renderReview(review, spec(), flavors, cluster);
  };
  const show = (i) => {
    step = i;
    steps.forEach((s, k) => { s.hidden = k !== i; });
    stepper.querySelectorAll('button').forEach((b, k) => { b.toggleAttribute('aria-current', k === i); b.classList.toggle('done', k < i); b.setAttribute('aria-current', k === i ? 'step' : 'false'); });
    back.hidden = i === 0;
    next.textContent = i === 3 ? 'Create container' : 'Next';
    steps[i].querySelector('h2').setAttribute('tabindex', '-1');
    steps[i].querySelector('h2').focus();
  };
  back.addEventListener('click', () => go(step - 1));

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearFieldErrors(form);
    status.replaceChildren();
    const errs = check(step);
    if (errs.length) { showFieldErrors(form, { errors: errs }); return; }
    if (step < 3) { go(step + 1); return; }
    next.disabled = true;
    next.textContent = 'Creating…';
    try {
      const c = await api.create(spec());
      toast(`Created “${c.name}”. It is Inactive until you start it.`);
      ctx.go(`#/containers/${c.id}`);
    } catch (err) {
      next.disabled = false;
      next.textContent = 'Create container';
      if (err.errors?.length) {
        show(Math.min(...err.errors.map((e) => stepOf(e.field))));
        const rest = showFieldErrors(form, err);
        if (rest.length) fill(status, problemBox({ ...err, errors: rest }));
      } else fill(status, problemBox(err));
    }
  });

  form.append(stepper, ...steps, status, h('div', { class: 'row end wizard-nav' }, back, next));
  clearAsEdited(form);
  show(0);
  name.focus();
  return form;
}

function field(id, label, input, help) {
  return h('div', { class: 'field' }, h('label', { for: id }, label), input, help ? h('p', { id: `${id}-help`, class: 'help' }, help) : null, fieldError(id));
}

async function renderReview(box, spec, flavors, cluster) {
  const f = flavors.find((x) => x.name === spec.flavor);
  const price = h('dd', {}, loading('Pricing'));
  fill(box, h('dl', { class: 'review' },
    h('dt', {}, 'Project'), h('dd', {}, spec.project),
    h('dt', {}, 'Name'), h('dd', {}, spec.name),
    h('dt', {}, 'Image'), h('dd', {}, h('code', {}, spec.image)),
    h('dt', {}, 'Flavor'), h('dd', {}, `${spec.flavor} — ${describeFlavor(f)}`),
    h('dt', {}, 'Command'), h('dd', {}, h('pre', { class: 'code' }, spec.command)),
    h('dt', {}, 'Environment'), h('dd', {}, spec.env.length ? h('ul', { class: 'plain' }, spec.env.map((e) => h('li', {}, h('code', {}, `${e.name}=${e.value}`)))) : h('span', { class: 'muted' }, 'none')),
    h('dt', {}, 'Storage'), h('dd', {}, (cluster.binds || []).map((b) => h('code', { class: 'chip' }, b)), h('span', { class: 'muted small' }, ' bound; logs kept in COS')),
    h('dt', {}, 'Schedule'), h('dd', {}, spec.schedule.kind === 'at' ? whenBoth(spec.schedule.at) : 'Manual: runs as soon as it is started'),
    h('dt', {}, 'Price'), price));
  try {
    const e = await api.estimate(spec.flavor);
    fill(price, h('strong', { 'data-price-hour': e.price_per_hour }, `${money(e.price_per_hour, e.currency)} per hour`),
      h('span', { class: 'muted' }, ` · at most ${money(e.max_price, e.currency)} for the ${duration(e.time_limit_seconds)} time limit`));
  } catch (err) { fill(price, problemBox(err)); }
}
