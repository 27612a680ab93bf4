package sqlite

import (
	"encoding/json"
	"reflect"
	"testing"

	"batchgate/gateway"
)

// FuzzDecodeEnv holds decodeEnv's fast path equal to encoding/json: for an environment the store
// wrote (names and values of any bytes) and for any text at all.
func FuzzDecodeEnv(f *testing.F) {
	for _, seed := range [][2]string{{"MODEL", "resnet50"}, {"", ""}, {"A", `quote " \ and <&>`}, {"É", "漢字\n\t\x00"},
		{"X", "\xff"}, {"S", "\u2028"}, {`{"name":"x"}`, `,"value":"`}} {
		f.Add(seed[0], seed[1], `[{"name":"`+seed[0]+`","value":"`+seed[1]+`"}]`)
	}
	f.Add("", "", "[]")
	f.Add("", "", "null")
	f.Add("", "", `[{"value":"v","name":"n"}]`)
	f.Add("", "", `[{"name":"a","value":"b"},]`)
	f.Fuzz(func(t *testing.T, name, value, text string) {
		stored, err := json.Marshal([]gateway.EnvVar{{Name: name, Value: value}, {Name: value, Value: name}})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{string(stored), text} {
			got, gerr := decodeEnv(s)
			var want []gateway.EnvVar
			werr := json.Unmarshal([]byte(s), &want)
			if want == nil {
				want = []gateway.EnvVar{}
			}
			if (gerr == nil) != (werr == nil) {
				t.Fatalf("%q: decodeEnv error %v, encoding/json error %v", s, gerr, werr)
			}
			if gerr == nil && !reflect.DeepEqual(got, want) {
				t.Fatalf("%q: decodeEnv %#v, encoding/json %#v", s, got, want)
			}
		}
	})
}
