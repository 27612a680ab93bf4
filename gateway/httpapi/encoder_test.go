package httpapi_test

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
	"time"

	gojson "github.com/goccy/go-json"
	"github.com/gofiber/fiber/v2"

	"batchgate/gateway"
	"batchgate/gateway/httpapi"
)

// The server encodes answers with goccy/go-json for speed; clients must see exactly the bytes
// encoding/json would write: the same escaping (HTML characters, U+2028, invalid UTF-8), the same
// float and time formats, the same omitted fields and sorted map keys.
func TestJSONEncoderMatchesStdlib(t *testing.T) {
	zone := time.FixedZone("+0530", 5*3600+1800)
	at := time.Date(2026, 3, 29, 2, 0, 0, 123456789, zone)
	exit, signal := 137, 9
	strangeStrings := []string{"", "plain", `quote " and \ backslash`, "<script>&amp;</script>", "line\nbreak\ttab\x01",
		"unicode é 漢字 🚀", "separators \u2028 \u2029", "invalid \xff utf-8", "nul \x00 byte"}
	var values []any
	for _, s := range strangeStrings {
		values = append(values,
			&gateway.Container{ID: "ctr_1", Project: "vision", Owner: "alice", Name: s, Image: "busybox", Flavor: "gpu-1",
				Command: s, Env: []gateway.EnvVar{{Name: "A", Value: s}}, State: gateway.Inactive,
				Schedule: gateway.Schedule{Kind: gateway.ScheduleAt, At: &at}, CreatedAt: at, UpdatedAt: at.UTC()},
			httpapi.Problem{Type: "about:blank", Title: s, Status: 400, Detail: s,
				Errors: []httpapi.FieldError{{Field: "env[0].name", Detail: s}}},
		)
	}
	values = append(values,
		&gateway.Container{Env: []gateway.EnvVar{}}, // empty, not null
		&gateway.Task{ID: "tsk_1", State: gateway.TaskCompleted, Begin: at, SubmittedAt: &at, EndedAt: &at,
			ExitCode: &exit, Signal: &signal, GPUs: 2, GPUHours: 0.1 + 0.2, CPUHours: 1e21, Cost: 1e-7,
			PricePerHour: 123456789.125, Currency: "EUR"},
		&gateway.Task{GPUHours: math.SmallestNonzeroFloat64, Cost: math.MaxFloat64, CPUHours: -0.0},
		fiber.Map{"items": []*gateway.Container{}, "next_cursor": "", "b": 1, "a": []int(nil)},
		gateway.UsageFigures{Jobs: 3, GPUs: 4, GPUSeconds: 7200, Cost: 2.5},
		map[string]any{"z": 1.5, "é": true, "<": nil, "url": "https://cos.example/b/k?X-Amz-Signature=a&b=c"},
	)
	for _, v := range values {
		want, werr := json.Marshal(v)
		got, gerr := gojson.Marshal(v)
		if (werr == nil) != (gerr == nil) {
			t.Errorf("%T: encoding/json error %v, go-json error %v", v, werr, gerr)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%T differs:\n go-json:       %s\n encoding/json: %s", v, got, want)
		}
	}
}
