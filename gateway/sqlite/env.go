package sqlite

import (
	"encoding/json"
	"strings"
	"unicode/utf8"

	"batchgate/gateway"
)

// decodeEnv reads a container's environment as toContainerRow stored it: the JSON of
// []gateway.EnvVar, exactly as encoding/json writes it. Every listing decodes one per row, so the
// common case (names and values without escapes) is read directly; anything else goes to
// encoding/json, which gives the same answer (FuzzDecodeEnv holds the two equal).
func decodeEnv(s string) ([]gateway.EnvVar, error) {
	if env, ok := decodeEnvFast(s); ok {
		return env, nil
	}
	var env []gateway.EnvVar
	if err := json.Unmarshal([]byte(s), &env); err != nil {
		return nil, err
	}
	if env == nil {
		env = []gateway.EnvVar{}
	}
	return env, nil
}

// decodeEnvFast reads `[{"name":"A","value":"B"},...]` with no whitespace and no backslash in
// any string, and reports false for anything else.
func decodeEnvFast(s string) ([]gateway.EnvVar, bool) {
	if s == "[]" {
		return []gateway.EnvVar{}, true
	}
	if strings.IndexByte(s, '\\') >= 0 || !utf8.ValidString(s) || !strings.HasPrefix(s, "[") || !strings.HasSuffix(s, "]") {
		return nil, false
	}
	body := s[1 : len(s)-1]
	env := make([]gateway.EnvVar, 0, strings.Count(body, `{"name":`))
	for body != "" {
		var name, value string
		var ok bool
		if body, ok = strings.CutPrefix(body, `{"name":"`); !ok {
			return nil, false
		}
		if name, body, ok = cutString(body); !ok {
			return nil, false
		}
		if body, ok = strings.CutPrefix(body, `,"value":"`); !ok {
			return nil, false
		}
		if value, body, ok = cutString(body); !ok {
			return nil, false
		}
		if body, ok = strings.CutPrefix(body, "}"); !ok {
			return nil, false
		}
		env = append(env, gateway.EnvVar{Name: name, Value: value})
		if body == "" {
			break
		}
		if body, ok = strings.CutPrefix(body, ","); !ok || body == "" {
			return nil, false
		}
	}
	return env, true
}

// cutString splits s after the closing quote of a JSON string whose opening quote is already
// consumed; the string holds no backslash (decodeEnvFast checked) and so no escaped quote. A
// control character, which JSON forbids unescaped, is left to encoding/json's error.
func cutString(s string) (str, rest string, ok bool) {
	i := strings.IndexByte(s, '"')
	if i < 0 {
		return "", "", false
	}
	for j := 0; j < i; j++ {
		if s[j] < 0x20 {
			return "", "", false
		}
	}
	return s[:i], s[i+1:], true
}
