package integration

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestConsoleEndToEnd drives the web console in headless Chromium against the real gateway on the
// dev cluster, as alice: sign in; create a container scheduled at the next whole hour through
// the wizard; start it and see it Ready with its eligible hour; stop it; create a manual one,
// watch it run and its log appear live, download the sealed log; see the monitoring page.
// Screenshots of every page, at 1280 px and 390 px, go to integration/artifacts/console/.
func TestConsoleEndToEnd(t *testing.T) {
	findChromium(t) // skip before starting the gateway when there is no browser
	g := startDevGateway(t, nil)
	b := newBrowser(t, g.URL)
	defer b.checkErrors()

	b.do(15*time.Second, "open the console", chromedpNavigate(g.URL+"/"))
	// The event-stream parser, in the browser: chunks split anywhere, CRLF, comments, ids.
	parsed, err := eval[string](b, `(async () => {
		const { feed } = await import('/js/sse.js');
		const st = { buf: '', type: '', data: [], lastId: '', retry: 0 };
		const out = [];
		for (const c of ['retry: 10\n\n: ping\n\nid: 7\r', '\nevent: line\ndata: {"line":', '"a"}\ndata: x\n\nid: 9\nevent: end\ndata: {}\n', '\n'])
			feed(st, c, (ev) => out.push(ev.type + '|' + ev.id + '|' + ev.data));
		return out.join(';') + ';retry=' + st.retry;
	})()`)
	if err != nil || parsed != `line|7|{"line":"a"}`+"\n"+`x;end|9|{};retry=10` {
		t.Fatalf("the SSE parser gives %q, %v", parsed, err)
	}

	// The pure helpers, in the browser: hours offered in a half-hour zone are its whole hours;
	// usage answers are read by the usage API's names.
	helpers, err := eval[string](b, `(async () => {
		const { hourChoices } = await import('/js/pages/hours.js');
		const { metric, pointKey, everyDay } = await import('/js/pages/monitoring.js');
		const hours = hourChoices('2026-03-01T10:30:00Z', 'Asia/Kolkata', 'Asia/Taipei', 2);
		const bad = hours.filter((c) => !c.iso.endsWith(':30:00Z')).length;
		const days = new Set(hours.map((c) => c.day)).size;
		const m = [metric({ gpu_hours: 1.5 }, 'gpu_hours'), metric({ gpus: 3 }, 'gpus'), metric({}, 'cost'),
			pointKey({ key: '2026-12-01' }), pointKey({ key: 'bob' })].join(',');
		const series = everyDay([{ key: '2000-01-01', gpu_hours: 2 }], 7);
		return [hours.length, bad, days, hours[0].label, m, series.length, series[0].value].join('|');
	})()`)
	if want := "48|0|3|16:00 (18:30 your time)|1.5,3,,2026-12-01,bob|8|2"; err != nil || helpers != want {
		t.Errorf("page helpers give %q (%v), want %q", helpers, err, want)
	}

	// Sign in: a bad token is refused next to the field, the right one lands on the containers.
	b.waitText(10*time.Second, "h1", "the sign-in page", contains("Sign in"))
	b.shot("01-signin")
	b.typeInto("#token", "not-a-token")
	b.click("form button[type=submit]")
	b.waitText(10*time.Second, "[data-error-for=token]", "the bad-token error next to the field", contains("not valid"))
	b.clear("#token")
	b.typeInto("#token", g.tokens["alice"])
	b.click("form button[type=submit]")
	b.waitText(15*time.Second, "main", "the empty containers list", contains("No containers yet"))
	if who := b.text("#who"); !strings.Contains(who, "alice") {
		t.Errorf("top bar shows %q, want alice", who)
	}
	b.shot("02-containers-empty")

	// The wizard, scheduled at the next whole hour.
	b.click("a.btn.primary[href='#/new']")
	b.waitText(15*time.Second, "#image", "the image catalog", contains("busybox"))
	b.click("form button[type=submit]") // Next with nothing filled in
	b.waitText(5*time.Second, "[data-error-for=name]", "the name error", contains("lower-case"))
	if b.attr("#name", "aria-invalid") != "true" {
		t.Errorf("the name field is not marked invalid")
	}
	b.typeInto("#name", "hourly")
	if e := b.text("[data-error-for=name]"); e != "" {
		t.Errorf("the name error stays after the name was typed: %q", e)
	}
	b.setSelect("#image", "busybox")
	b.click("input[name=flavor][value=gpu-1]")
	b.typeInto("#command", "echo on the hour")
	b.shot("03-create-basic")
	b.click("form button[type=submit]")
	b.waitText(5*time.Second, ".step:not([hidden])", "the storage step", contains("HFS work"))
	b.shot("04-create-storage")
	b.click("form button[type=submit]")
	b.waitText(5*time.Second, ".step:not([hidden]) h2", "the schedule step", contains("Schedule"))
	b.click("#kind-at")
	hour := b.attr("#sched-hour option:checked", "value")
	want, err := time.Parse(time.RFC3339, hour)
	if next := time.Now().UTC().Truncate(time.Hour).Add(time.Hour); err != nil || !want.Equal(next) {
		t.Fatalf("the picker's first hour is %q (%v), want the next whole hour %s", hour, err, next.Format(time.RFC3339))
	}
	b.shot("05-create-schedule")
	b.click("form button[type=submit]")
	b.waitText(10*time.Second, "dl.review", "the price on the review", contains("$2.50 per hour"))
	review := b.text("dl.review")
	for _, s := range []string{"hourly", "busybox", "gpu-1", "echo on the hour", "$60.00", "UTC"} {
		if !strings.Contains(review, s) {
			t.Errorf("review lacks %q: %q", s, review)
		}
	}
	b.shot("06-create-review")
	b.click("form button[type=submit]")
	b.waitText(15*time.Second, "h1", "the new container's page", contains("hourly"))
	b.waitText(5*time.Second, ".head-state", "Inactive", contains("Inactive"))
	b.waitText(10*time.Second, "#script", "the sbatch script", contains("#SBATCH"))

	// Start it: Ready, eligible at the hour, waiting for it (BeginTime); shown live on the list.
	b.click(".page-head [data-action=start]")
	b.waitText(30*time.Second, ".head-state", "Ready with reason BeginTime", contains("BeginTime"))
	if at, err := time.Parse(time.RFC3339, b.attr(".head-state [data-eligible]", "data-eligible")); err != nil || !at.Equal(want) {
		t.Errorf("eligible at %v (%v), want %s", at, err, hour)
	}
	b.shot("07-detail-ready")
	b.click(".crumbs a")
	row := "tr[data-state=Ready]"
	b.waitText(15*time.Second, row, "the Ready row with its eligible hour", contains("eligible at"))
	if s := b.text(row); !strings.Contains(s, want.Format("15:04")) || !strings.Contains(s, "BeginTime") {
		t.Errorf("the Ready row says %q, want the hour %s and the reason", s, want.Format("15:04"))
	}
	b.shot("08-containers-ready")
	// Keyboard: Tab from the top reaches the list's actions in order, all of them real controls.
	b.do(5*time.Second, "focus the skip link", chromedp.Evaluate[chromedp.Void](`document.querySelector('.skip').focus()`))
	order := []string{"A:Skip to content"}
	for i := 0; i < 25 && (!strings.HasPrefix(order[len(order)-1], "BUTTON:Stop")); i++ {
		b.do(5*time.Second, "press Tab", chromedp.KeyEvent("\t"))
		d, _ := eval[string](b, `(() => { const e = document.activeElement; return e.tagName + ':' + (e.getAttribute('aria-label') || e.innerText || e.placeholder || '').trim(); })()`)
		order = append(order, d)
	}
	seq := strings.Join(order, " > ")
	for _, want := range []string{"A:batchgate home", "A:Containers", "A:Create", "A:Monitoring", "BUTTON:Sign out", "A:New container", "INPUT:Filter containers", "A:hourly", "BUTTON:Stop hourly"} {
		if !strings.Contains(seq, want) {
			t.Errorf("Tab order %q lacks %q", seq, want)
		}
	}
	b.click(row + " [data-action=stop]")
	b.click("dialog button[value=yes]")
	b.waitText(20*time.Second, "tbody", "the stopped container Inactive", func(s string) bool {
		return b.attr("tbody tr", "data-state") == "Inactive"
	})

	// A manual container: run it, watch its log live, download the sealed log.
	b.click("a.btn.primary[href='#/new']")
	b.waitText(15*time.Second, "#image", "the image catalog", contains("busybox"))
	b.typeInto("#name", "printer")
	b.setSelect("#image", "busybox")
	b.click("input[name=flavor][value=gpu-1]")
	b.typeInto("#command", `for i in 1 2 3 4 5 6 7 8; do echo "line $i $GREETING"; sleep 1; done`)
	b.click(".env button.btn")
	b.typeInto(".env-row .env-name", "SLURM_FOO") // passes the page's checks, refused by the gateway
	b.typeInto(".env-row .env-value", "hello")
	for i := 0; i < 3; i++ {
		b.click("form button[type=submit]")
	}
	b.waitText(10*time.Second, "dl.review", "the review", contains("SLURM_FOO=hello"))
	b.waitText(10*time.Second, "dl.review", "the price on the review", contains("per hour"))
	b.click("form button[type=submit]")
	// The gateway's problem lands next to the variable, back on the step that holds it.
	b.waitText(10*time.Second, `[data-error-for="env[0].name"]`, "the gateway's env error next to the field", contains("reserved"))
	if step := b.text(".step:not([hidden]) h2"); step != "Basic information" {
		t.Errorf("after a problem with env[0].name the wizard shows %q, want Basic information", step)
	}
	b.shot("06b-create-server-error")
	b.clear(".env-row .env-name")
	b.typeInto(".env-row .env-name", "GREETING")
	if e := b.text(`[data-error-for="env[0].name"]`); e != "" {
		t.Errorf("the env error stays after the field was edited: %q", e)
	}
	for i := 0; i < 3; i++ {
		b.click("form button[type=submit]")
	}
	// Wait for the whole review, price included: a click while it still lays itself out can land
	// beside the button.
	b.waitText(10*time.Second, "dl.review", "the review", contains("GREETING=hello"))
	b.waitText(10*time.Second, "dl.review", "the price on the review", contains("per hour"))
	b.click("form button[type=submit]")
	b.waitText(15*time.Second, "h1", "the manual container's page", contains("printer"))
	b.click(".page-head [data-action=start]")
	live := b.waitText(60*time.Second, "#log-text", "the first lines of the log, live", contains("line 2 hello"))
	if strings.Contains(live, "line 8") {
		t.Errorf("the log appeared only at the end: %q", live)
	}
	if st := b.text(".head-state"); !strings.Contains(st, "Running") {
		t.Errorf("while its log streams the container is %q, want Running", st)
	}
	b.shot("09-detail-running")
	b.waitText(30*time.Second, "#log-text", "the whole log", contains("line 8 hello"))
	b.waitText(90*time.Second, "#log", "the download button once sealed", contains("Download log"))
	b.click("#download-log")
	b.waitText(15*time.Second, ".download-out", "the download link", contains("Open the log"))
	url := b.attr("#download-link", "href")
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("download %s: %v", url, err)
	}
	sealed, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || strings.Count(string(sealed), "hello\n") != 8 {
		t.Errorf("the downloaded log (%d) = %q, want 8 lines", resp.StatusCode, sealed)
	}
	b.waitText(30*time.Second, "table.tasks", "the completed task", contains("COMPLETED"))
	b.shot("10-detail-done")

	// Monitoring: the GPU hours of the run, from the usage ledger; before usage exists (the API
	// answers 404) the page says so and sums the gateway's own task records instead.
	ledger := g.call(t, "alice", "GET", "/api/v1/usage?group_by=day", nil, nil) != http.StatusNotFound
	deadline := time.Now().Add(2 * time.Minute)
	for {
		b.do(10*time.Second, "open monitoring", chromedpNavigate(g.URL+"/#/monitoring"))
		v := b.waitText(15*time.Second, "[data-stat=gpu-hours] .stat-value", "the GPU hours figure", func(s string) bool { return s != "" })
		if f, err := strconv.ParseFloat(strings.ReplaceAll(v, ",", ""), 64); err == nil && f > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("monitoring shows %q GPU hours after 2 minutes, want the run's GPU hours", v)
		}
		time.Sleep(5 * time.Second)
	}
	if notice := b.text("[data-state=unavailable]"); ledger == (notice != "") {
		t.Errorf("usage API present: %v, but the page's not-available notice says %q", ledger, notice)
	}
	if b.text("svg.chart") == "" && b.attr("svg.chart", "aria-label") == "" {
		t.Errorf("no usage chart on the monitoring page")
	}
	b.shot("11-monitoring")
	b.click("nav a[data-nav=containers]")
	b.waitText(15*time.Second, "tbody", "both containers", func(s string) bool { return strings.Contains(s, "printer") && strings.Contains(s, "hourly") })
	// Favourites are pinned first: star the older container and it moves to the top.
	if first := b.attr("tbody tr", "data-id"); b.text("tbody tr .name") != "printer" {
		t.Errorf("newest first: the first row is %q (%s), want printer", b.text("tbody tr .name"), first)
	}
	b.click(`tbody tr:nth-child(2) button.star`)
	b.waitText(10*time.Second, "tbody tr .name", "the starred container pinned first", func(s string) bool { return s == "hourly" })
	if b.attr("tbody tr button.star", "aria-pressed") != "true" {
		t.Errorf("the pinned container's star is not pressed")
	}
	b.shot("12-containers")

	// A site admin sees every user's usage: the by-user table and chart.
	b.click("#who button")
	b.waitText(10*time.Second, "h1", "the sign-in page after signing out", contains("Sign in"))
	if tok, _ := eval[string](b, `sessionStorage.getItem('batchgate.token') || ''`); tok != "" {
		t.Errorf("the token is still in sessionStorage after signing out")
	}
	b.typeInto("#token", g.tokens["root"])
	b.click("form button[type=submit]")
	b.waitText(15*time.Second, "tbody", "alice's containers for the site admin", contains("printer"))
	b.click("nav a[data-nav=monitoring]")
	b.waitText(60*time.Second, "main", "usage by user for the site admin", contains("By user"))
	if s := b.text("main"); !strings.Contains(s, "alice") {
		t.Errorf("the admin's monitoring page does not list alice: %q", s)
	}
	b.shot("13-monitoring-admin")
}
