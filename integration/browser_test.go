package integration

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// browser drives headless Chromium against the gateway's console and records what the page
// throws, so a JavaScript error fails the test instead of passing unseen.
type browser struct {
	t         *testing.T
	ctx       context.Context
	base      string
	artifacts string
	mu        sync.Mutex
	errors    []string
}

// findChromium returns the system Chromium, skipping (or failing under CI) when it is absent.
// Never a downloaded browser: Debian's package, as scripts/install-deps installs it.
func findChromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("BATCHGATE_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p == "" {
			continue
		}
		if _, err := exec.LookPath(p); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("CI is set but Chromium is not installed: apt-get install -y chromium (scripts/install-deps)")
	}
	t.Skip("Chromium not found (/usr/bin/chromium): apt-get install -y chromium to run the console tests")
	return ""
}

func newBrowser(t *testing.T, base string) *browser {
	t.Helper()
	exe := findChromium(t)
	// The browser runs in another time zone than the cluster (UTC), so both zones are shown.
	opts := []chromedp.ExecAllocatorOption{chromedp.ExecPath(exe), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900),
		chromedp.Env("TZ=Asia/Taipei")}
	for _, f := range []string{"headless", "no-sandbox", "disable-gpu", "disable-quic", "no-first-run", "no-default-browser-check",
		"disable-background-networking", "disable-component-update", "disable-sync", "disable-extensions", "hide-scrollbars",
		"disable-dev-shm-usage"} {
		opts = append(opts, chromedp.Flag(f, true))
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	b := &browser{t: t, ctx: ctx, base: base, artifacts: filepath.Join("artifacts", "console")}
	if err := os.MkdirAll(b.artifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	// The first action starts the browser: no timeout on its context (it would stop the browser).
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			// Network entries (a 404 the page expects and handles, such as /api/v1/usage before
			// usage exists) are the browser's log, not the console's failures.
			if m.IsException() || (m.Type == chromedp.ConsoleError && m.Source != "network") {
				b.record(m.String())
			}
		}
	}()
	return b
}

func (b *browser) record(msg string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.errors = append(b.errors, msg)
}

// checkErrors fails the test if the page threw or logged an error.
func (b *browser) checkErrors() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, e := range b.errors {
		b.t.Errorf("the console page: %s", e)
	}
	b.errors = nil
}

// do performs actions with a deadline, failing the test with what it was doing.
func (b *browser) do(timeout time.Duration, what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.shot("failed-" + strings.ReplaceAll(what, " ", "-"))
		b.t.Fatalf("%s: %v", what, err)
	}
}

// click clicks the element matching the CSS selector sel.
func (b *browser) click(sel string) {
	b.t.Helper()
	b.do(10*time.Second, "click "+sel, chromedp.Click(chromedp.CSS(sel)))
}

// typeInto types text into the element matching sel.
func (b *browser) typeInto(sel, text string) {
	b.t.Helper()
	b.do(10*time.Second, "type into "+sel, chromedp.SendKeys(chromedp.CSS(sel), text))
}

// eval evaluates a JavaScript expression (awaiting a promise) and decodes its value.
func eval[T any](b *browser, expr string) (T, error) {
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
}

// text is the visible text of the first element matching sel ("" if none).
func (b *browser) text(sel string) string {
	b.t.Helper()
	s, err := eval[string](b, fmt.Sprintf(`(document.querySelector(%q)||{}).innerText||""`, sel))
	if err != nil {
		b.t.Fatalf("read %s: %v", sel, err)
	}
	return s
}

// attr is the attribute name of the first element matching sel ("" if none).
func (b *browser) attr(sel, name string) string {
	b.t.Helper()
	s, err := eval[string](b, fmt.Sprintf(`(document.querySelector(%q)||{getAttribute(){return ""}}).getAttribute(%q)||""`, sel, name))
	if err != nil {
		b.t.Fatalf("read %s[%s]: %v", sel, name, err)
	}
	return s
}

// waitText waits until the text of sel satisfies cond, and returns it.
func (b *browser) waitText(timeout time.Duration, sel, what string, cond func(string) bool) string {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		s := b.text(sel)
		if cond(s) {
			return s
		}
		if time.Now().After(deadline) {
			b.shot("timeout-" + strings.ReplaceAll(what, " ", "-"))
			b.t.Fatalf("timed out after %s waiting for %s; %s says %q", timeout, what, sel, s)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func contains(sub string) func(string) bool {
	return func(s string) bool { return strings.Contains(s, sub) }
}

// setSelect chooses value in a <select> and tells the page, as a user's choice would.
func (b *browser) setSelect(sel, value string) {
	b.t.Helper()
	expr := fmt.Sprintf(`(() => { const el = document.querySelector(%q); if (!el || ![...el.options].some(o => o.value === %q)) return false;
		el.value = %q; el.dispatchEvent(new Event('change', {bubbles: true})); return true; })()`, sel, value, value)
	if ok, err := eval[bool](b, expr); err != nil || !ok {
		b.t.Fatalf("choose %q in %s: %v (option present: %v)", value, sel, err, ok)
	}
}

// shot saves full-page screenshots of the current page at 1280 px and at a phone's 390 px.
func (b *browser) shot(name string) {
	for _, w := range []struct{ width, height int64 }{{1280, 900}, {390, 844}} {
		ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
		// Toasts are fixed to the viewport: in a full-page picture they would float mid-page.
		err := chromedp.Do(ctx, chromedp.EmulateViewport(w.width, w.height),
			chromedp.Evaluate[chromedp.Void](`document.getElementById('toasts') && (document.getElementById('toasts').style.visibility = 'hidden')`),
			chromedp.Sleep(300*time.Millisecond))
		var png []byte
		if err == nil {
			png, err = chromedp.Run(ctx, chromedp.FullScreenshot(100))
		}
		if err == nil {
			err = chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900),
				chromedp.Evaluate[chromedp.Void](`document.getElementById('toasts') && (document.getElementById('toasts').style.visibility = '')`))
		}
		cancel()
		if err != nil {
			b.t.Logf("screenshot %s at %d px: %v", name, w.width, err)
			continue
		}
		file := filepath.Join(b.artifacts, fmt.Sprintf("%s-%d.png", name, w.width))
		if err := os.WriteFile(file, png, 0o644); err != nil {
			b.t.Logf("save %s: %v", file, err)
		}
	}
}

// clear empties a text input.
func (b *browser) clear(sel string) {
	b.t.Helper()
	if _, err := eval[bool](b, fmt.Sprintf(`(() => { document.querySelector(%q).value = ""; return true; })()`, sel)); err != nil {
		b.t.Fatalf("clear %s: %v", sel, err)
	}
}

// chromedpNavigate loads url in the tab.
func chromedpNavigate(url string) chromedp.Action[chromedp.Void] { return chromedp.Navigate(url) }
