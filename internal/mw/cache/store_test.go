package cache

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rgate/rgate/internal/config"
)

func TestNewStoreGeometry(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		maxBytes     config.Size
		wantMax      int64
		wantShards   int
		wantMaxEntry int64
	}{
		{0, 64 << 20, 16, 2 << 20},
		{512 << 10, 512 << 10, 1, 64 << 10},
		{1 << 20, 1 << 20, 1, 128 << 10},
		{4 << 20, 4 << 20, 4, 512 << 10},
		{1 << 30, 1 << 30, 16, 32 << 20},
	} {
		t.Run(tc.maxBytes.String(), func(t *testing.T) {
			t.Parallel()
			s := newStore(0, 0, tc.maxBytes)
			if s.maxBytes != tc.wantMax || len(s.shards) != tc.wantShards || s.maxEntry != tc.wantMaxEntry {
				t.Errorf("max %d, %d shards, entry limit %d; want %d, %d, %d",
					s.maxBytes, len(s.shards), s.maxEntry, tc.wantMax, tc.wantShards, tc.wantMaxEntry)
			}
			if s.ttl != config.DefaultCacheTTL || s.staleFor != config.DefaultStaleIfError {
				t.Errorf("ttl %v stale %v, want the defaults", s.ttl, s.staleFor)
			}
		})
	}
}

// checkShards verifies each shard's list, maps and byte count agree, and
// returns the total bytes.
func checkShards(t *testing.T, s *Store) int64 {
	t.Helper()
	var total int64
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.RLock()
		var n int
		var bytes int64
		primaries := map[string]bool{}
		for e := sh.head; e != nil; e = e.next {
			n++
			bytes += e.size
			if sh.items[e.key] == e {
				primaries[e.key[:e.plen]] = true
			}
		}
		if n != len(sh.items) || bytes != sh.bytes || bytes > sh.max {
			t.Errorf("shard %d: %d listed, %d keyed, %d bytes (counted %d), max %d", i, n, len(sh.items), bytes, sh.bytes, sh.max)
		}
		if len(sh.specs) != len(primaries) {
			t.Errorf("shard %d: %d specs for %d primary keys", i, len(sh.specs), len(primaries))
		}
		total += bytes
		sh.mu.RUnlock()
	}
	return total
}

func TestEvictionKeepsBytesBounded(t *testing.T) {
	t.Parallel()
	for _, maxBytes := range []config.Size{1 << 20, 16 << 20} {
		t.Run(maxBytes.String(), func(t *testing.T) {
			t.Parallel()
			s := newStore(0, 0, maxBytes)
			body := strings.Repeat("b", int(s.maxEntry)/3)
			h := New(s, http.HandlerFunc(text(body)))
			const inserted = 400
			for i := range inserted {
				serve(h, http.MethodGet, "/e/"+strconv.Itoa(i))
				if st := s.Stats(); st.Bytes > uint64(maxBytes) {
					t.Fatalf("after %d entries: %d bytes > %d", i+1, st.Bytes, maxBytes)
				}
			}
			st := s.Stats()
			if total := checkShards(t, s); uint64(total) != st.Bytes {
				t.Errorf("shards hold %d bytes, Stats says %d", total, st.Bytes)
			}
			if st.Entries == 0 || st.Entries >= inserted || st.Bytes < uint64(maxBytes)/2 {
				t.Errorf("Stats() = %+v after %d inserts into %d bytes", st, inserted, maxBytes)
			}
		})
	}
}

// fill is an entry of the given size for primary key k.
func fill(k string, size int64) *entry {
	return &entry{key: k, plen: len(k), size: size, at: time.Now(), fresh: time.Minute}
}

func TestClockGivesUsedEntriesASecondChance(t *testing.T) {
	t.Parallel()
	s := newStore(0, 0, 1<<20)
	sh := &s.shards[0]
	third := sh.max / 3
	for _, k := range []string{"a", "b", "c"} {
		s.insert(fill(k, third))
	}
	sh.items["a"].touch() // a is the oldest, but used
	s.insert(fill("d", third))
	for k, want := range map[string]bool{"a": true, "b": false, "c": true, "d": true} {
		if _, ok := sh.items[k]; ok != want {
			t.Errorf("%s stored = %v, want %v", k, ok, want)
		}
	}
	if sh.items["a"].ref.Load() {
		t.Error("a kept its reference bit after its second chance")
	}
	checkShards(t, s)
}

func TestReplaceAndVaryChange(t *testing.T) {
	t.Parallel()
	s := newStore(0, 0, 1<<20)
	e1 := fill("k", 1000)
	s.insert(e1)
	s.insert(fill("k", 2000)) // same key: replaces
	v := fill("k\x00Accept:x", 500)
	v.plen, v.vary = 1, []string{"Accept"}
	s.insert(v) // new Vary set for the primary key
	sh := &s.shards[0]
	if st := s.Stats(); st.Entries != 2 || st.Bytes != 2500 {
		t.Errorf("Stats() = %+v, want 2 entries, 2500 bytes", st)
	}
	if sp := sh.specs["k"]; sp != v.spec || len(sp.vary) != 1 {
		t.Errorf("spec for k = %+v, want the Accept one", sp)
	}
	s.evict(sh, sh.max) // empty the shard
	if len(sh.items) != 0 || len(sh.specs) != 0 || sh.bytes != 0 || s.Stats().Entries != 0 {
		t.Errorf("after evicting all: %d items, %d specs, %d bytes", len(sh.items), len(sh.specs), sh.bytes)
	}
}

func TestOversizedEntryNotStored(t *testing.T) {
	t.Parallel()
	s := newStore(0, 0, 1<<20)
	// The body fits the entry limit, the headers push it over.
	body := strings.Repeat("b", int(s.maxEntry)-100)
	h := New(s, http.HandlerFunc(text(body, "X-Big", strings.Repeat("h", 200))))
	serve(h, http.MethodGet, "/o")
	if r := serve(h, http.MethodGet, "/o"); r.xcache() != "MISS" || r.body != body {
		t.Errorf("X-Cache %q, %d bytes", r.xcache(), len(r.body))
	}
}
