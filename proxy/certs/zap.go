package certs

import (
	"context"
	"log/slog"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// newZap returns a zap logger, for certmagic, that writes through h, so
// that certmagic's lines have the format of every other line. Its logger
// names become a "logger" attribute ("certmagic.obtain"), and its "error"
// fields are renamed "err", as lameduck names them.
//
// certmagic narrates each step of its work at Info ("acquiring lock",
// "trying to solve challenge"...): those lines go to slog at Debug, and
// the Manager logs its own summary at Info instead. Warnings and errors
// keep their level.
func newZap(h slog.Handler) *zap.Logger {
	return zap.New(&zapCore{h: h}).Named("certmagic")
}

// zapCore is a zapcore.Core that forwards entries to a slog.Handler.
type zapCore struct {
	h slog.Handler
}

// slogLevel maps a zap level to the slog level it is logged at.
func slogLevel(l zapcore.Level) slog.Level {
	switch {
	case l <= zapcore.InfoLevel:
		return slog.LevelDebug
	case l == zapcore.WarnLevel:
		return slog.LevelWarn
	}
	return slog.LevelError
}

// Enabled asks the handler whether the level is logged.
func (c *zapCore) Enabled(l zapcore.Level) bool {
	return c.h.Enabled(context.Background(), slogLevel(l))
}

// With returns a core whose handler carries the fields as attributes.
func (c *zapCore) With(fields []zapcore.Field) zapcore.Core {
	return &zapCore{h: c.h.WithAttrs(attrs(fields))}
}

// Check adds c to ce when the entry's level is enabled.
func (c *zapCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

// Write hands the entry and its fields to the handler as one record.
func (c *zapCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	r := slog.NewRecord(e.Time, slogLevel(e.Level), e.Message, 0)
	if e.LoggerName != "" {
		r.AddAttrs(slog.String("logger", e.LoggerName))
	}
	r.AddAttrs(attrs(fields)...)
	return c.h.Handle(context.Background(), r)
}

// Sync does nothing: slog handlers write as they go.
func (c *zapCore) Sync() error { return nil }

// attrs turns zap fields into slog attributes, in order.
func attrs(fields []zapcore.Field) []slog.Attr {
	out := make([]slog.Attr, 0, len(fields))
	for _, f := range fields {
		enc := zapcore.NewMapObjectEncoder()
		f.AddTo(enc)
		for k, v := range enc.Fields {
			if k == "error" {
				k = "err"
			}
			out = append(out, slog.Any(k, v))
		}
	}
	return out
}
