package cluster

import (
	"fmt"
	"slices"
	"testing"

	"github.com/hashicorp/raft"
)

// batchSM records how entries reach the state machine.
type batchSM struct {
	StateMachine // not called
	runs         [][]uint64
	single       []uint64
}

func (s *batchSM) ApplyLog(index uint64, _ []byte) any {
	s.single = append(s.single, index)
	return fmt.Sprint("one ", index)
}

func (s *batchSM) ApplyLogs(indexes []uint64, _ [][]byte) []any {
	s.runs = append(s.runs, slices.Clone(indexes))
	out := make([]any, len(indexes))
	for i, idx := range indexes {
		out[i] = fmt.Sprint("run ", idx)
	}
	return out
}

// Runs of commands go to ApplyLogs; other entries end a run, and every
// result lands at its entry's position.
func TestApplyBatchRuns(t *testing.T) {
	sm := &batchSM{}
	f := &raftFSM{sm: sm}
	logs := []*raft.Log{
		{Index: 1, Type: raft.LogCommand},
		{Index: 2, Type: raft.LogCommand},
		{Index: 3, Type: raft.LogConfiguration},
		{Index: 4, Type: raft.LogCommand},
	}
	got := f.ApplyBatch(logs)
	want := []any{"run 1", "run 2", nil, "run 4"}
	if !slices.Equal(got, want) {
		t.Fatalf("results %v, want %v", got, want)
	}
	if len(sm.runs) != 2 || !slices.Equal(sm.runs[0], []uint64{1, 2}) || !slices.Equal(sm.runs[1], []uint64{4}) || len(sm.single) != 0 {
		t.Fatalf("runs %v, single %v; want [[1 2] [4]] and none single", sm.runs, sm.single)
	}
}

// singleSM applies one entry at a time only.
type singleSM struct {
	StateMachine
	applied []uint64
}

func (s *singleSM) ApplyLog(index uint64, _ []byte) any {
	s.applied = append(s.applied, index)
	return index
}

func TestApplyBatchWithoutBatchApplier(t *testing.T) {
	sm := &singleSM{}
	f := &raftFSM{sm: sm}
	got := f.ApplyBatch([]*raft.Log{{Index: 7, Type: raft.LogCommand}, {Index: 8, Type: raft.LogNoop}, {Index: 9, Type: raft.LogCommand}})
	if !slices.Equal(got, []any{uint64(7), nil, uint64(9)}) || !slices.Equal(sm.applied, []uint64{7, 9}) {
		t.Fatalf("results %v, applied %v", got, sm.applied)
	}
}
