package collector

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Checkpoints are small versioned JSON documents, one per (account, stream),
// stored by the store as opaque bytes. Every shape carries "v" and is read
// with encoding/json, which ignores unknown fields, so a newer build can add
// fields that an older one keeps reading. A checkpoint names the position up
// to which every event was handed to the syslog sender and the sender was
// flushed without error (design §7); it is written only after such a flush.
const checkpointVersion = 1

// siemBatchCheckpoint is the position of an API 2.0 batch stream (siem, and
// siem_ci with the types entities, mailflow and urlclick): one cursor per
// log type, because the client asks for one type per call.
//
//	{"v":1,"types":{"receipt":{"cursor":"…","done":3,"start":"2026-11-21"}}}
//
// cursor is the @nextPage token that yields the page being worked on ("" =
// the first page from start); done counts the files of that page already
// delivered, in the order the page lists them. Files are delivered one at a
// time: after each, flush, then done+1 is committed, so a crash re-sends at
// most the file in flight. After the last file of a page, cursor becomes the
// page's @nextPage and done 0. When a page with files has no @nextPage, the
// cursor stays and done = the page's length: moving to "" would restart from
// start and re-send the whole backlog. start is kept because the first page
// (cursor "") is only the same page again with the same start date.
//
// The duplicate filter (batchFilter) is saved beside the checkpoint, in
// the same transaction (store.Progress.Sets), so it knows exactly the
// records before the position.
//
// migration is set from the switch of an API 1.0 account to 2.0 until
// every type has caught up once (see migration).
type siemBatchCheckpoint struct {
	V         int                       `json:"v"`
	Types     map[string]*siemTypeState `json:"types"`
	Migration *migration                `json:"migration,omitempty"`
}

type siemTypeState struct {
	Cursor string `json:"cursor"`
	Done   int    `json:"done"`
	Start  string `json:"start"` // YYYY-MM-DD (UTC)
}

// siemV1Checkpoint is the position of the API 1.0 SIEM stream: the
// mc-siem-token returned with the last file that was delivered and flushed
// ("" = start from the oldest file Mimecast keeps).
//
//	{"v":1,"token":"…","start":"…"}
//
// get-siem-logs has no start parameter: without a token Mimecast starts at
// the oldest file it keeps (7 days), and the client drops records older than
// the start we pass. start is that initial-lookback instant, fixed at the
// stream's first run and saved with the first token: computed afresh at each
// run it would drop records of files still queued after a pause.
//
// files are the names of the files delivered whole (the newest
// maxV1Files), so a file Mimecast serves again, or meets again in a
// backfill, is not sent twice; partial names the files whose records were
// delivered from a time on only (those read while start dropped older
// ones), so a backfill sends just the records before it. newest is, per log
// type, the newest record delivered, for a switch to API 2.0 (crossTail).
type siemV1Checkpoint struct {
	V       int                  `json:"v"`
	Token   string               `json:"token"`
	Start   time.Time            `json:"start,omitzero"`
	Files   []string             `json:"files,omitempty"`
	Partial map[string]time.Time `json:"partial,omitempty"`
	Newest  map[string]time.Time `json:"newest,omitempty"`
}

// windowCheckpoint is the position of a time-window stream (audit, TTP, DLP,
// message_release, archive_search, and the threat intel feeds, whose page
// token is the x-mc-threat-feed-next-token header).
//
//	{"v":1,"end":"…","window":{"start":"…","end":"…","page_token":"…","tail":[…]},"seen":[…]}
//
// end is the end of the last completed window. A new window is
// [end − overlap, now − settle]: the overlap catches records Mimecast makes
// visible late and whatever an inclusive or exclusive bound would miss, and
// seen holds the identities of the records of the previous window's last
// `overlap`, so re-reading the overlap sends nothing twice. window is the
// window in progress: its bounds, the page token of the next page to read
// and tail, the identities of the records read so far (delivered now or
// before) whose time falls in the window's last `overlap` or who have no
// time; they become seen when the window completes. The window is
// committed after every page, so a crash re-sends at most one page.
//
// Identities are "id:<Record.ID>", or for records without an ID
// "sha256:<first 16 bytes of the hash of Raw, hex>", with "#n" for the n-th
// byte-identical record read in the window, because two identical records
// can be two real events (an archive searched twice in one second). The
// count starts with each window: every window reads its records in the same
// order. A run that resumes a window inside it takes the count up from the
// window's edge, the hash identities of the last records read that share
// the last one's time: identical records share their time, and Mimecast
// sorts a window's records by time, so the earlier copies of a record that
// follows are all in the edge. The limits of the scheme: a record Mimecast
// shows more than `overlap` after its own time is never read; a record of
// the edge that Mimecast moves onto the next page (records inserted before
// it) is sent again after such a restart, as it cannot be told from an
// identical twin; and a run counts a record that moves onto a later page
// within the run (or is otherwise met again before its page was committed)
// as a further copy, so it is sent again.
type windowCheckpoint struct {
	V      int          `json:"v"`
	End    time.Time    `json:"end,omitzero"`
	Window *windowState `json:"window,omitempty"`
	Seen   []string     `json:"seen,omitempty"`
}

type windowState struct {
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`
	PageToken string    `json:"page_token,omitempty"`
	Tail      []string  `json:"tail,omitempty"`
	// Edge holds the hash identities of the last records read that share
	// the time of the last one (EdgeTime), to number further copies.
	Edge     []string  `json:"edge,omitempty"`
	EdgeTime time.Time `json:"edge_time,omitzero"`
}

// decodeCheckpoint reads data into cp. Empty data leaves cp as is (the
// stream's first run). A checkpoint of a newer version is refused rather
// than misread: the stream fails with a clear error instead of re-sending
// or skipping data.
func decodeCheckpoint(data []byte, cp any, version *int) error {
	if len(data) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, cp); err != nil {
		return fmt.Errorf("reading checkpoint: %w", err)
	}
	if *version > checkpointVersion {
		return fmt.Errorf("reading checkpoint: version %d is newer than this build understands (%d)", *version, checkpointVersion)
	}
	return nil
}

func encodeCheckpoint(cp any) ([]byte, error) {
	b, err := json.Marshal(cp)
	if err != nil {
		return nil, fmt.Errorf("encoding checkpoint: %w", err)
	}
	return b, nil
}

// resetPosition returns what a reset keeps of the checkpoint data (nil:
// nothing) and the saved sets it drops. An API 1.0 SIEM checkpoint keeps
// its delivered files and newest times, losing token and start; any other
// checkpoint goes whole, and with a batch checkpoint its migration's sets
// (the key sets per log type stay).
func resetPosition(data []byte, sets map[string][]byte) (keep []byte, drop []string) {
	var v1 siemV1Checkpoint
	if json.Unmarshal(data, &v1) == nil && (v1.Token != "" || len(v1.Files) > 0 || len(v1.Partial) > 0) {
		if len(v1.Files) > 0 || len(v1.Partial) > 0 || len(v1.Newest) > 0 {
			keep, _ = encodeCheckpoint(&siemV1Checkpoint{V: checkpointVersion, Files: v1.Files, Partial: v1.Partial, Newest: v1.Newest})
		}
		return keep, nil
	}
	for name := range sets {
		if strings.HasPrefix(name, "migration/") || strings.HasPrefix(name, tailPrefix) {
			drop = append(drop, name)
		}
	}
	return nil, drop
}
