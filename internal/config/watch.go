package config

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// watchQuiet is how long Watch waits after the last event of a burst before
// it calls back: editors write a file in several steps (truncate, write,
// rename, chmod), and the callback should see the finished file.
const watchQuiet = 100 * time.Millisecond

// Watch calls onChange whenever something in the directory of path
// changes, once per burst of events, until ctx is done. It watches the
// directory rather than the file because editors and config managers
// replace files atomically (write a temp file, rename it over) and
// Kubernetes swaps a symlink: a watch on the file itself would go deaf
// after the first replace. The callback should compare the file's content
// with what it last applied, since other files in the directory trigger it
// too.
func Watch(ctx context.Context, path string, log *slog.Logger, onChange func()) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("creating file watcher: %w", err)
	}
	defer w.Close()
	dir := filepath.Dir(path)
	if err := w.Add(dir); err != nil {
		return fmt.Errorf("watching %s: %w", dir, err)
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			log.Debug("config directory changed", "event", ev.String())
			timer.Reset(watchQuiet)
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			log.Warn("watching the config directory", "dir", dir, "error", err)
		case <-timer.C:
			onChange()
		}
	}
}
