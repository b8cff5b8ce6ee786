package cluster

import "testing"

func TestSnapshotThresholdGrowsWithStore(t *testing.T) {
	for _, tt := range []struct {
		configured uint64
		count      int
		want       uint64
	}{
		{8192, 0, 8192},
		{8192, 10_000, 8192},
		{8192, 1_000_000, 500_000},
		{1 << 20, 1_000_000, 1 << 20},
	} {
		if got := snapshotThreshold(tt.configured, tt.count); got != tt.want {
			t.Errorf("snapshotThreshold(%d, %d) = %d, want %d", tt.configured, tt.count, got, tt.want)
		}
	}
}
