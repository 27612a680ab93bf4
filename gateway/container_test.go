package gateway

import (
	"strings"
	"testing"
	"time"
)

func TestValidateReportsEveryProblemAtOnce(t *testing.T) {
	now, _ := time.Parse(time.RFC3339, "2026-12-04T16:25:00Z")
	at, _ := time.Parse(time.RFC3339, "2026-12-04T16:30:00Z")
	spec := ContainerSpec{
		Name: "Bad Name", Command: "  ",
		Env:      []EnvVar{{Name: "1X", Value: "v"}, {Name: "OK", Value: "a"}, {Name: "OK", Value: "b"}, {Name: "SLURM_JOB_ID", Value: "1"}},
		Schedule: Schedule{Kind: ScheduleAt, At: &at},
	}
	spec.Canonicalize()
	problems := spec.Validate(now, time.UTC)
	fields := map[string]string{}
	for _, p := range problems {
		fields[p.Field] = p.Detail
	}
	for _, f := range []string{"name", "image", "flavor", "command", "env[0].name", "env[2].name", "env[3].name", "schedule.at"} {
		if fields[f] == "" {
			t.Errorf("no problem reported for %s; got %v", f, problems)
		}
	}
	if !strings.Contains(fields["schedule.at"], "whole hour") {
		t.Errorf("schedule.at: %q", fields["schedule.at"])
	}
	err := problems.Err("bad spec")
	if ErrorCode(err) != CodeInvalid {
		t.Errorf("code %s, want invalid", ErrorCode(err))
	}
}

func TestValidateAcceptsAGoodSpec(t *testing.T) {
	now, _ := time.Parse(time.RFC3339, "2026-12-04T16:25:00Z")
	at := NextWholeHour(now, time.UTC)
	spec := ContainerSpec{Name: "train-1", Image: "pytorch", Flavor: "gpu-1", Command: "python train.py --epochs 3",
		Env: []EnvVar{{Name: "EPOCHS", Value: "a,b=c \"q\" $(x)"}}, Schedule: Schedule{Kind: ScheduleAt, At: &at}}
	spec.Canonicalize()
	if p := spec.Validate(now, time.UTC); len(p) != 0 {
		t.Fatalf("good spec refused: %v", p)
	}
	manual := ContainerSpec{Name: "x", Image: "i", Flavor: "f", Command: "true"}
	manual.Canonicalize()
	if manual.Schedule.Kind != ScheduleManual || len(manual.Validate(now, time.UTC)) != 0 {
		t.Fatalf("a spec without a schedule is manual and valid")
	}
}

func TestEstimate(t *testing.T) {
	e := Flavor{Name: "gpu-2", PricePerHour: 5, TimeLimit: 90 * time.Minute, Currency: "USD"}.Estimate()
	if e.MaxPrice != 7.5 || e.TimeLimitSeconds != 5400 || e.PricePerHour != 5 {
		t.Errorf("estimate = %+v", e)
	}
}
