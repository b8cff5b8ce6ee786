package cluster

import (
	"errors"
	"testing"
)

type answer struct{ n int }

func TestResultAs(t *testing.T) {
	want := &answer{7}
	if got, err := resultAs[*answer](want, nil); err != nil || got != want {
		t.Fatalf("resultAs(answer) = %v, %v", got, err)
	}
	if got, err := resultAs[*answer](nil, ErrNotLeader); got != nil || !errors.Is(err, ErrNotLeader) {
		t.Fatalf("resultAs(error) = %v, %v", got, err)
	}
	if got, err := resultAs[*answer]("other", nil); got != nil || err == nil {
		t.Fatalf("resultAs(string) = %v, %v", got, err)
	}
	if got, err := resultAs[*answer](nil, nil); got != nil || err == nil {
		t.Fatalf("resultAs(nil) = %v, %v", got, err)
	}
}
