package config

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
)

var durationType = reflect.TypeFor[time.Duration]()

// Keys lists every key path that environment variables and flags can override, sorted.
// Lists of structures (flavors) are set in the file only.
func Keys() []string {
	var keys []string
	walk(reflect.ValueOf(&Config{}).Elem(), "", func(key string, _ reflect.Value, _ reflect.StructField) {
		keys = append(keys, key)
	})
	sort.Strings(keys)
	return keys
}

// walk calls fn for every overridable scalar (or string list) field under v, with its key path.
func walk(v reflect.Value, prefix string, fn func(key string, field reflect.Value, sf reflect.StructField)) {
	t := v.Type()
	for i := range t.NumField() {
		sf := t.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
		if name == "" || sf.Tag.Get("override") == "-" {
			continue
		}
		key := prefix + name
		if sf.Type.Kind() == reflect.Struct && sf.Type != durationType {
			walk(v.Field(i), key+".", fn)
			continue
		}
		fn(key, v.Field(i), sf)
	}
}

// set parses value into the field at key path. Lists are comma-separated.
func set(cfg *Config, key, value string) error {
	var found bool
	var err error
	walk(reflect.ValueOf(cfg).Elem(), "", func(k string, field reflect.Value, _ reflect.StructField) {
		if k != key {
			return
		}
		found = true
		err = parseInto(field, value)
	})
	if !found {
		return fmt.Errorf("unknown key; known keys: %s", strings.Join(Keys(), ", "))
	}
	return err
}

func parseInto(field reflect.Value, value string) error {
	switch {
	case field.Type() == durationType:
		d, err := time.ParseDuration(value)
		if err != nil {
			return fmt.Errorf("not a duration (e.g. 30s, 5m, 24h)")
		}
		field.SetInt(int64(d))
	case field.Kind() == reflect.String:
		field.SetString(value)
	case field.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(value)
		if err != nil {
			return fmt.Errorf("not a boolean (true or false)")
		}
		field.SetBool(b)
	case field.Kind() == reflect.Int:
		n, err := strconv.Atoi(value)
		if err != nil {
			return fmt.Errorf("not a whole number")
		}
		field.SetInt(int64(n))
	case field.Kind() == reflect.Float64:
		f, err := strconv.ParseFloat(value, 64)
		if err != nil {
			return fmt.Errorf("not a number")
		}
		field.SetFloat(f)
	case field.Kind() == reflect.Slice && field.Type().Elem().Kind() == reflect.String:
		var items []string
		for item := range strings.SplitSeq(value, ",") {
			if item = strings.TrimSpace(item); item != "" {
				items = append(items, item)
			}
		}
		field.Set(reflect.ValueOf(items))
	default:
		return fmt.Errorf("cannot be overridden (type %s)", field.Type())
	}
	return nil
}

// Lines renders the effective configuration as "key = value" lines, secrets masked, for
// `batchgate config` and the start-up log.
func (c Config) Lines() []string {
	var lines []string
	walk(reflect.ValueOf(&c).Elem(), "", func(key string, field reflect.Value, sf reflect.StructField) {
		v := fmt.Sprint(field.Interface())
		if sf.Tag.Get("secret") == "true" && v != "" {
			v = "(set)"
		}
		lines = append(lines, key+" = "+v)
	})
	for _, f := range c.Flavors {
		lines = append(lines, fmt.Sprintf("flavor %s = %d GPU(s)%s, %d CPU(s), %d MB, partition %s, limit %s, %.2f %s/h",
			f.Name, f.GPUs, gpuTypeSuffix(f.GPUType), f.CPUs, f.MemoryMB, f.Partition, f.TimeLimit, f.PricePerHour, f.Currency))
	}
	return lines
}

func gpuTypeSuffix(t string) string {
	if t == "" {
		return ""
	}
	return " (" + t + ")"
}
