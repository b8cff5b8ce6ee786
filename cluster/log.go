package cluster

import (
	"context"
	"log/slog"
	"strings"

	"github.com/hashicorp/go-hclog"
)

// newHclogAdapter routes raft's and autopilot's hclog output to slog.
func newHclogAdapter(l *slog.Logger) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:        "raft",
		Level:       hclog.Info,
		Output:      slogWriter{l},
		DisableTime: true,
	})
}

// slogWriter turns one hclog line ("[INFO]  raft: message: k=v") into a slog
// record at the matching level.
type slogWriter struct{ l *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	msg := strings.TrimSpace(string(p))
	level := slog.LevelInfo
	for prefix, lv := range hclogLevels {
		if strings.HasPrefix(msg, prefix) {
			level = lv
			msg = strings.TrimSpace(strings.TrimPrefix(msg, prefix))
			break
		}
	}
	msg = strings.TrimPrefix(msg, "raft: ")
	w.l.Log(context.Background(), level, msg)
	return len(p), nil
}

var hclogLevels = map[string]slog.Level{
	"[TRACE]": slog.LevelDebug,
	"[DEBUG]": slog.LevelDebug,
	"[INFO]":  slog.LevelInfo,
	"[WARN]":  slog.LevelWarn,
	"[ERROR]": slog.LevelError,
}
