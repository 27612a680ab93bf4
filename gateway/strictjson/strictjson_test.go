package strictjson

import (
	"errors"
	"slices"
	"testing"
)

type inner struct {
	Kind string `json:"kind"`
	N    int    `json:"n,omitempty"`
}

type doc struct {
	Name   string  `json:"name"`
	Items  []inner `json:"items"`
	Nested *inner  `json:"nested"`
	Plain  bool
	Hidden string `json:"-"`
}

func TestDecodeAcceptsExactNames(t *testing.T) {
	var d doc
	err := Decode([]byte(`{"name": "a", "items": [{"kind": "x", "n": 2}], "nested": {"kind": "y"}, "Plain": true}`), &d)
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != "a" || len(d.Items) != 1 || d.Items[0].N != 2 || d.Nested == nil || d.Nested.Kind != "y" || !d.Plain {
		t.Errorf("decoded %+v", d)
	}
}

func TestDecodeRefuses(t *testing.T) {
	for _, c := range []struct {
		body, field string
		accepted    []string
	}{
		{`{"Name": "a"}`, "Name", []string{"name", "items", "nested", "Plain"}},
		{`{"plain": true}`, "plain", []string{"name", "items", "nested", "Plain"}},
		{`{"Hidden": "x"}`, "Hidden", []string{"name", "items", "nested", "Plain"}},
		{`{"name": "a", "extra": 1}`, "extra", []string{"name", "items", "nested", "Plain"}},
		{`{"items": [{"kind": "x"}, {"KIND": "y"}]}`, "items[1].KIND", []string{"kind", "n"}},
		{`{"nested": {"kind": "x", "m": 1}}`, "nested.m", []string{"kind", "n"}},
		{`{"items": [{"n": "two"}]}`, "items.n", nil},
		{`{"name": "a"} {}`, "", nil},
		{`{"name": `, "", nil},
		{``, "", nil},
	} {
		var d doc
		err := Decode([]byte(c.body), &d)
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("%s: error %v, want an *Error", c.body, err)
			continue
		}
		if e.Field != c.field || !slices.Equal(e.Accepted, c.accepted) || e.Detail == "" {
			t.Errorf("%s: got field %q accepted %q (%v), want field %q accepted %q", c.body, e.Field, e.Accepted, e, c.field, c.accepted)
		}
	}
}

// TestDecodeReportsTheFirstKeyInOrder: a document with several bad keys always gets the same
// error, whatever the map order.
func TestDecodeReportsTheFirstKeyInOrder(t *testing.T) {
	for range 20 {
		var d doc
		var e *Error
		if err := Decode([]byte(`{"zz": 1, "Name": "a", "bb": 2}`), &d); !errors.As(err, &e) || e.Field != "Name" {
			t.Fatalf("got %v, want the field Name", err)
		}
	}
}
