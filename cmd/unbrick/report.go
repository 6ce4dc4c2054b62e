package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/unbrick/unbrick/internal/exitcode"
	"github.com/unbrick/unbrick/internal/fleetlog"
	"github.com/unbrick/unbrick/internal/keys"
	"github.com/unbrick/unbrick/internal/redact"
)

func newReportCmd(e *env) *cobra.Command {
	c := &cobra.Command{
		Use:   "report [flags] LOGDIR...",
		Short: "merge fleet logs: outcome per host, keys to rotate, hosts never seen",
		Long: `Merges fleet logs (directories searched for unbrick.jsonl, or the files) from many
sticks and runs: newest record per host, counts by status, the recovery key IDs
that were used (rotate those keys), and with --inventory the hosts never seen.
--json prints JSON Lines: one object per host ("type": "host", its newest
record), one per inventory host never seen ("type": "never-seen"), and a last
"type": "summary" line with the counts, the keys used and the hosts whose
journal a fix emptied.`,
		Example: `  unbrick report /mnt/usb1/logs /mnt/usb2/logs
  unbrick report --inventory BitLockerKeys.csv --csv fleet.csv logs/
  unbrick report --code 7K2M9QXR logs/
  unbrick report --json logs/ | jq 'select(.type == "host") | .status'`,
		Args: minArgs("log directory or unbrick.jsonl file"),
	}
	fs := c.Flags()
	csvOut := fs.String("csv", "", "also write the newest record per host to `FILE` as CSV")
	inventory := fs.String("inventory", "", "list hosts of `FILE` (a key export or a host list) never seen in the logs")
	pwFile := fs.String("passphrase-file", "", "passphrase for a sealed key export given as --inventory: the first line of `FILE`")
	code := fs.String("code", "", "show the record whose confirmation code is `CODE`")
	asJSON := fs.Bool("json", false, "print JSON Lines: one object per host, then a summary")
	c.RunE = func(_ *cobra.Command, paths []string) error {
		return exit(runReport(e, reportRequest{csv: *csvOut, inventory: *inventory, passphraseFile: *pwFile, code: *code, json: *asJSON}, paths))
	}
	return c
}

// reportRequest is what the flags of report ask for.
type reportRequest struct {
	csv, inventory, passphraseFile, code string
	json                                 bool
}

// runReport merges the fleet logs at paths.
func runReport(e *env, r reportRequest, paths []string) int {
	fail := func(format string, a ...any) int {
		fmt.Fprintf(e.Stderr, "unbrick report: "+format+"\n", a...)
		return exitcode.Failure
	}
	recs, probs, err := fleetlog.ReadPaths(paths)
	if err != nil {
		return fail("%v", err)
	}
	for _, p := range probs {
		fmt.Fprintf(e.Stderr, "unbrick report: warning: %v\n", p)
	}
	if r.code != "" {
		return reportCode(e, recs, r.code)
	}
	sum := fleetlog.Merge(recs)
	var never []fleetlog.InventoryItem
	if r.inventory != "" {
		inv, err := fleetlog.LoadInventory(r.inventory, keys.LoadOptions{Passphrase: keysPassphrase(e, r.passphraseFile)})
		if err != nil {
			return fail("%v", err)
		}
		never = fleetlog.NeverSeen(inv, recs)
	}
	if r.csv != "" {
		if err := writeReportCSV(r.csv, sum); err != nil {
			return fail("%v", err)
		}
	}
	if r.json {
		return printReportJSON(e, sum, never, r.inventory != "")
	}
	printReport(e.Stdout, sum, never, r.inventory != "", len(paths))
	return exitcode.OK
}

func printReport(w io.Writer, s *fleetlog.Summary, never []fleetlog.InventoryItem, withInv bool, nPaths int) {
	fmt.Fprintf(w, "%d record(s), %d host(s)\n\n", s.Records, len(s.Hosts))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "status\thosts")
	for _, st := range fleetlog.Statuses {
		fmt.Fprintf(tw, "%s\t%d\n", st, s.Counts[st])
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "host\tstatus\ttime (UTC)\tvolume\tcode\trecords\terror")
	for _, h := range s.Hosts {
		r := h.Latest
		name := r.Host.Name()
		if name == "" {
			name = "(unknown)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\n", name, r.Status, r.Time.UTC().Format("2006-01-02 15:04:05"),
			r.VolumeID, r.ConfirmationCode, h.Records, oneLine(r.Error))
	}
	tw.Flush()
	var replayed, reset []string
	for _, h := range s.Hosts {
		name := h.Latest.Host.Name()
		if name == "" {
			name = h.Latest.VolumeID
		}
		if h.JournalReplayed {
			replayed = append(replayed, name)
		}
		if h.JournalReset {
			reset = append(reset, name)
		}
	}
	if len(replayed)+len(reset) > 0 {
		fmt.Fprintf(w, "\nNTFS journals replayed before the fix (as Windows does at start): %d host(s)\n", len(replayed))
		fmt.Fprintf(w, "NTFS journals emptied (reset; chkdsk runs at next start, unwritten changes lost: check these hosts): %d\n", len(reset))
		for _, n := range reset {
			fmt.Fprintf(w, "  %s\n", n)
		}
	}
	if len(s.Packs) > 0 {
		fmt.Fprintf(w, "\nrule packs used (%d):\n", len(s.Packs))
		for _, p := range s.Packs {
			v := p.ID
			if p.Version != "" {
				v += " version " + p.Version
			}
			fmt.Fprintf(w, "  %s (sha256 %s), %d record(s): %s\n", v, p.SHA256, p.Records, p.Signature)
			if p.Unverified {
				why := p.Signature
				if p.Expired != "" {
					why += "; " + p.Expired
				}
				fmt.Fprintf(w, "  WARNING: %s was used without a valid signature or after its expiry date (%s): check who made it before trusting these fixes\n", p.ID, why)
			}
		}
	}
	fmt.Fprintf(w, "\nrecovery keys used (%d): rotate these keys now that they have been typed or copied\n", len(s.Keys))
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, k := range s.Keys {
		fmt.Fprintf(tw, "  {%s}\t%s\tlast used %s\n", k.KeyID, k.Host, k.LastUsed.Time.UTC().Format("2006-01-02 15:04:05"))
	}
	tw.Flush()
	if withInv {
		fmt.Fprintf(w, "\nhosts in the inventory never seen in the logs (%d):\n", len(never))
		for _, it := range never {
			fmt.Fprintf(w, "  %s\t(%s)\n", inventoryLabel(it), it.Source)
		}
	}
}

func inventoryLabel(it fleetlog.InventoryItem) string {
	var parts []string
	if it.Name != "" {
		parts = append(parts, it.Name)
	}
	if it.Serial != "" {
		parts = append(parts, "serial "+it.Serial)
	}
	if len(parts) == 0 && len(it.KeyIDs) > 0 {
		parts = append(parts, "key {"+strings.Join(it.KeyIDs, "}, {")+"}")
	}
	return strings.Join(parts, ", ")
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return s
}

// The lines of `report --json` (JSON Lines, as scan --json and fix --json
// print): one reportHostLine per host, one reportNeverSeenLine per
// inventory host never seen, and one reportSummaryLine last. Each has
// "type" first.
type reportHostLine struct {
	Type    string `json:"type"`    // "host"
	Records int    `json:"records"` // the host's records in the logs
	fleetlog.Record
}

type reportNeverSeenLine struct {
	Type   string   `json:"type"` // "never-seen"
	Name   string   `json:"name,omitempty"`
	Serial string   `json:"serial,omitempty"`
	KeyIDs []string `json:"key_ids,omitempty"`
	Source string   `json:"source"` // inventory file:line
}

type reportSummaryLine struct {
	Type     string                  `json:"type"` // "summary"
	Records  int                     `json:"records"`
	Hosts    int                     `json:"hosts"`
	Counts   map[fleetlog.Status]int `json:"counts"`
	KeysUsed []string                `json:"recovery_keys_used"`
	// NeverSeen counts the never-seen lines; absent without --inventory.
	NeverSeen *int `json:"never_seen,omitempty"`
	// JournalReset lists the hosts whose NTFS journal a fix emptied
	// (chkdsk at next start): the help desk should check them.
	JournalReset []string `json:"journal_reset_hosts,omitempty"`
	// RulePacks are the rule packs the records name, each with "unverified"
	// when it was used without a valid signature or after its expiry.
	RulePacks []reportPack `json:"rule_packs,omitempty"`
}

// reportPack is one rule pack in the JSON summary.
type reportPack struct {
	fleetlog.RulePack
	Records    int  `json:"records"`
	Unverified bool `json:"unverified"`
}

func printReportJSON(e *env, s *fleetlog.Summary, never []fleetlog.InventoryItem, withInv bool) int {
	enc := json.NewEncoder(e.Stdout)
	sum := reportSummaryLine{Type: "summary", Records: s.Records, Hosts: len(s.Hosts), Counts: map[fleetlog.Status]int{}, KeysUsed: []string{}}
	for _, st := range fleetlog.Statuses {
		sum.Counts[st] = s.Counts[st]
	}
	var err error
	put := func(v any) {
		if err == nil {
			err = enc.Encode(v)
		}
	}
	for _, h := range s.Hosts {
		put(reportHostLine{Type: "host", Records: h.Records, Record: h.Latest.Record})
		if h.JournalReset {
			name := h.Latest.Host.Name()
			if name == "" {
				name = h.Latest.VolumeID
			}
			sum.JournalReset = append(sum.JournalReset, name)
		}
	}
	for _, it := range never {
		put(reportNeverSeenLine{Type: "never-seen", Name: it.Name, Serial: it.Serial, KeyIDs: it.KeyIDs, Source: it.Source})
	}
	for _, k := range s.Keys {
		sum.KeysUsed = append(sum.KeysUsed, k.KeyID)
	}
	for _, p := range s.Packs {
		sum.RulePacks = append(sum.RulePacks, reportPack{RulePack: p.RulePack, Records: p.Records, Unverified: p.Unverified})
	}
	if withInv {
		n := len(never)
		sum.NeverSeen = &n
	}
	put(sum)
	if err != nil {
		fmt.Fprintf(e.Stderr, "unbrick report: %v\n", err)
		return exitcode.Failure
	}
	return exitcode.OK
}

func reportCode(e *env, recs []fleetlog.LoadedRecord, code string) int {
	found := 0
	for _, r := range recs {
		if fleetlog.NormalizeCode(code) != r.ConfirmationCode {
			continue
		}
		found++
		ok := fleetlog.CheckCode(code, r.RunID, r.VolumeID, r.Status)
		fmt.Fprintf(e.Stdout, "%s:%d: host %s, volume %s, status %s, %s UTC, run %s, technician %s; code recomputed: %v\n",
			r.File, r.Line, r.Host.Name(), r.VolumeID, r.Status, r.Time.UTC().Format("2006-01-02 15:04:05"), r.RunID, r.Technician, ok)
	}
	if found == 0 {
		fmt.Fprintf(e.Stdout, "no record has confirmation code %s\n", fleetlog.NormalizeCode(code))
		return exitcode.Failure
	}
	return exitcode.OK
}

func writeReportCSV(path string, s *fleetlog.Summary) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	// The records may come from an older unbrick's log: redact what they
	// hold, as everything unbrick writes.
	rw := redact.NewWriter(f)
	w := csv.NewWriter(rw)
	w.Write([]string{"host", "computer_name", "bitlocker_name", "smbios_serial", "status", "time", "volume_id", "recovery_key_id",
		"files_deleted", "error", "confirmation_code", "run_id", "technician", "records", "log"})
	for _, h := range s.Hosts {
		r := h.Latest
		deleted := 0
		for _, fl := range r.Files {
			if fl.Action == "deleted" {
				deleted++
			}
		}
		w.Write([]string{r.Host.Name(), r.Host.ComputerName, r.Host.BitLockerName, r.Host.Serial, string(r.Status),
			r.Time.UTC().Format(time.RFC3339), r.VolumeID, r.RecoveryKeyID, strconv.Itoa(deleted), r.Error,
			r.ConfirmationCode, r.RunID, r.Technician, strconv.Itoa(h.Records), fmt.Sprintf("%s:%d", r.File, r.Line)})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		f.Close()
		return err
	}
	if err := rw.Flush(); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
