package httpapi_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"batchgate/gateway"
)

// served serves a's API on a loopback listener for the benchmark's life and returns its base URL
// and a keep-alive client: the benchmarks below count fasthttp and a real client too, as users do.
func (a *api) served(b *testing.B) (string, *http.Client) {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go a.srv.Serve(ln) //nolint:errcheck // ends with Shutdown below
	b.Cleanup(func() { _ = a.srv.Shutdown(context.Background()) })
	return "http://" + ln.Addr().String(), &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
}

func (a *api) request(b *testing.B, client *http.Client, method, url, user, body string) []byte {
	var rd io.Reader
	if body != "" {
		rd = bytes.NewReader([]byte(body))
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+a.tokens[user])
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode/100 != 2 {
		b.Fatalf("%s %s: %d %s %v", method, url, resp.StatusCode, out, err)
	}
	return out
}

// BenchmarkCreateStart is the gateway's own share of the bench's create+start figure: the two
// requests end to end, over loopback, with a Slurm fake that answers at once (so what remains is
// HTTP, authentication, validation, rendering, the store's writes and the audit trail).
func BenchmarkCreateStart(b *testing.B) {
	a := newAPI(b, time.UTC)
	base, client := a.served(b)
	at := gateway.NextWholeHour(time.Now(), time.UTC).Add(time.Hour).Format(time.RFC3339)
	b.ResetTimer()
	for i := range b.N {
		body := fmt.Sprintf(`{"project":"vision","name":"bench-%d","image":"pytorch","flavor":"gpu-1","command":"true",
			"schedule":{"kind":"at","at":%q}}`, i, at)
		created := a.request(b, client, "POST", base+"/api/v1/containers", "alice", body)
		id := string(created[bytes.Index(created, []byte(`"id":"`))+6:])
		id = id[:bytes.IndexByte([]byte(id), '"')]
		a.request(b, client, "POST", base+"/api/v1/containers/"+id+"/start", "alice", "")
	}
}

// BenchmarkListPage is the bench's list figure in miniature: the first page (50) of alice's
// containers out of 10,000, from 32 keep-alive clients at once.
func BenchmarkListPage(b *testing.B) {
	a := newAPI(b, time.UTC)
	ctx := context.Background()
	start := time.Now().UTC()
	for i := range 10000 {
		at := start.Add(time.Duration(i) * time.Microsecond)
		c := &gateway.Container{ID: fmt.Sprintf("ctr_%08d", i), Project: "vision", Owner: "alice", Name: fmt.Sprintf("seed-%05d", i),
			Image: "pytorch", Flavor: "gpu-1", Command: "python train.py --epochs 10",
			Env: []gateway.EnvVar{{Name: "MODEL", Value: "resnet50"}}, Schedule: gateway.Schedule{Kind: gateway.ScheduleManual},
			State: gateway.Inactive, CreatedAt: at, UpdatedAt: at}
		if err := a.db.CreateContainer(ctx, c, ""); err != nil {
			b.Fatal(err)
		}
	}
	base, client := a.served(b)
	b.SetParallelism(16) // 32 clients on 2 cores
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			a.request(b, client, "GET", base+"/api/v1/containers", "alice", "")
		}
	})
}
