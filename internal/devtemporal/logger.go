package devtemporal

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/log/tag"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// fatalPanic is the panic value raised in place of process exit when the
// Temporal server logs at Fatal level.
type fatalPanic struct {
	msg    string
	fields string // "key=value, ..." of the log entry, such as the address
}

func (p fatalPanic) Error() string {
	if p.fields == "" {
		return "temporal server fatal: " + p.msg
	}
	return "temporal server fatal: " + p.msg + " (" + p.fields + ")"
}

// serverLogger adapts zl for the Temporal server. The server is chatty at
// info level, so anything below warn is dropped. The server calls Fatal on
// start-up problems such as a port already in use; zap would then exit the
// process, so Fatal panics instead and Start turns that panic into an error.
// A nil zl discards everything.
func serverLogger(zl *zap.Logger) log.Logger {
	if zl == nil {
		zl = zap.NewNop()
	}
	zl = zl.Named("temporal").WithOptions(
		zap.WrapCore(func(core zapcore.Core) zapcore.Core {
			if quiet, err := zapcore.NewIncreaseLevelCore(core, zapcore.WarnLevel); err == nil {
				core = quiet
			} // else the core is already stricter than warn: keep it.
			return zapcore.NewTee(core, terminalCore{})
		}),
		zap.WithFatalHook(fatalHook{}),
	)
	return log.NewZapLogger(zl)
}

// terminalCore discards everything but keeps Panic and Fatal enabled. The
// server's adapter skips a log call whose level is disabled, so without it a
// Fatal sent to a no-op logger would simply return and the server would carry
// on with, say, a nil listener.
type terminalCore struct{}

func (terminalCore) Enabled(l zapcore.Level) bool               { return l >= zapcore.PanicLevel }
func (c terminalCore) With([]zapcore.Field) zapcore.Core        { return c }
func (terminalCore) Write(zapcore.Entry, []zapcore.Field) error { return nil }
func (terminalCore) Sync() error                                { return nil }

func (c terminalCore) Check(ent zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(ent.Level) {
		return ce.AddCore(ent, c)
	}
	return ce
}

// fatalHook panics with a fatalPanic after the entry has been written.
type fatalHook struct{}

func (fatalHook) OnWrite(ce *zapcore.CheckedEntry, fields []zapcore.Field) {
	enc := zapcore.NewMapObjectEncoder()
	for _, f := range fields {
		if f.Key != tag.LoggingCallAtKey {
			f.AddTo(enc)
		}
	}
	kv := make([]string, 0, len(enc.Fields))
	for _, k := range slices.Sorted(maps.Keys(enc.Fields)) {
		kv = append(kv, fmt.Sprintf("%s=%v", k, enc.Fields[k]))
	}
	panic(fatalPanic{msg: ce.Message, fields: strings.Join(kv, ", ")})
}

// recoverFatal runs fn and converts a panic (including a Fatal log of the
// Temporal server) into an error, so a failed start never ends the process.
func recoverFatal(fn func() error) (err error) {
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		if fp, ok := r.(fatalPanic); ok {
			err = fp
			return
		}
		err = fmt.Errorf("panic: %v", r)
	}()
	return fn()
}
