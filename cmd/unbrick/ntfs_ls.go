package main

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/unbrick/unbrick/internal/exitcode"
	"github.com/unbrick/unbrick/ntfs"
)

// ntfsLsEntry is one line of `unbrick ntfs ls` (and one JSON object).
type ntfsLsEntry struct {
	Name       string    `json:"name"`
	ShortName  string    `json:"short_name,omitempty"`
	Namespace  string    `json:"namespace"`
	Dir        bool      `json:"dir"`
	MFTRecord  uint64    `json:"mft_record"`
	Sequence   uint16    `json:"sequence"`
	Size       int64     `json:"size"`
	Allocated  int64     `json:"allocated_size"`
	Attributes uint32    `json:"attributes"`
	Modified   time.Time `json:"mtime"`
	Created    time.Time `json:"ctime"`
	MFTChanged time.Time `json:"mft_changed"`
	Accessed   time.Time `json:"atime"`
	FNModified time.Time `json:"fn_mtime"`
	LinkCount  uint16    `json:"link_count"`
	ReparseTag uint32    `json:"reparse_tag,omitempty"`
	Compressed bool      `json:"compressed,omitempty"`
	Sparse     bool      `json:"sparse,omitempty"`
	Error      string    `json:"error,omitempty"`
}

func newNTFSLsCmd(e *env) *cobra.Command {
	c := &cobra.Command{
		Use:   "ls [key flags] [flags] TARGET PATH",
		Short: "list a directory (or one file) of an NTFS volume",
		Long: `Lists the directory PATH (or the single file PATH) of the NTFS volume on
TARGET (BitLocker is unlocked with the key flags), in NTFS collation order,
one line per file: type, size, last-write time (UTC), MFT record number,
name, and the 8.3 short name in brackets. Sizes and times come from each
file's MFT record ($STANDARD_INFORMATION: what Windows shows). --json prints
an array with both timestamp sets, sizes, attributes, sequence number and
link count. Read-only.`,
		Example: `  unbrick ntfs ls --partition 3 disk.img Windows/System32/drivers/CrowdStrike
  unbrick ntfs ls --keys BitLockerKeys.csv /dev/sdb / --json`,
		Args: args("TARGET", "PATH"),
	}
	kf := addKeyFlags(c)
	partition := addPartitionFlag(c, "the only NTFS or BitLocker volume")
	asJSON := c.Flags().Bool("json", false, "print a JSON array")
	c.RunE = func(_ *cobra.Command, pos []string) error { return exit(runNTFSLs(e, kf, *partition, *asJSON, pos)) }
	return c
}

func runNTFSLs(e *env, kf *keyFlags, partition int, asJSON bool, pos []string) int {
	o, code, err := openNTFSRead(e, "unbrick ntfs ls", pos[0], partition, kf)
	if err != nil {
		fmt.Fprintf(e.Stderr, "unbrick ntfs ls: %v\n", err)
		return code
	}
	defer o.Close()
	v := o.Vol
	f, err := v.Lookup(pos[1])
	if err != nil {
		fmt.Fprintf(e.Stderr, "unbrick ntfs ls: %s: %v\n", pos[1], err)
		return ntfsExitCode(err)
	}
	var out []ntfsLsEntry
	failed := false
	if !f.IsDir() {
		fi, err := f.Stat()
		if err != nil {
			fmt.Fprintf(e.Stderr, "unbrick ntfs ls: %s: %v\n", pos[1], err)
			return ntfsExitCode(err)
		}
		out = append(out, lsEntryFromStat(fi.Name(), fi))
	} else {
		ents, err := f.ReadDir()
		if err != nil {
			fmt.Fprintf(e.Stderr, "unbrick ntfs ls: %s: %v\n", pos[1], err)
			return ntfsExitCode(err)
		}
		short := map[ntfs.FileRef]string{}
		for _, d := range ents {
			if d.IsDOS() {
				short[d.Ref] = d.Name
			}
		}
		for _, d := range ents {
			if d.IsDOS() {
				continue
			}
			var le ntfsLsEntry
			cf, err := v.OpenRef(d.Ref)
			var fi *ntfs.FileInfo
			if err == nil {
				fi, err = cf.Stat()
			}
			if err != nil {
				failed = true
				fmt.Fprintf(e.Stderr, "unbrick ntfs ls: %s: record %v: %v\n", d.Name, d.Ref, err)
				fn := d.FileName
				le = ntfsLsEntry{Name: d.Name, Dir: d.IsDir, MFTRecord: d.Ref.Record(), Sequence: d.Ref.Seq(),
					Size: fn.DataSize, FNModified: ntfs.NTFSTime(fn.Modified), Error: err.Error()}
			} else {
				le = lsEntryFromStat(d.Name, fi)
			}
			le.Namespace = d.Namespace.String()
			if s, ok := short[d.Ref]; ok {
				le.ShortName = s
			}
			out = append(out, le)
		}
	}
	if asJSON {
		if out == nil {
			out = []ntfsLsEntry{}
		}
		enc := json.NewEncoder(e.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return exitcode.Failure
		}
	} else {
		for _, le := range out {
			kind := "-"
			if le.Dir {
				kind = "d"
			}
			line := fmt.Sprintf("%s %12d %s %8d  %s", kind, le.Size, le.Modified.Format("2006-01-02 15:04:05Z"), le.MFTRecord, le.Name)
			if le.ShortName != "" {
				line += "  [" + le.ShortName + "]"
			}
			fmt.Fprintln(e.Stdout, line)
		}
	}
	if failed {
		return exitcode.Failure
	}
	return exitcode.OK
}

func lsEntryFromStat(name string, fi *ntfs.FileInfo) ntfsLsEntry {
	le := ntfsLsEntry{
		Name: name, Dir: fi.IsDir, MFTRecord: fi.Ref.Record(), Sequence: fi.Ref.Seq(),
		Size: fi.Size, Allocated: fi.AllocatedSize, Attributes: fi.Attributes,
		Modified: fi.Times.Modified, Created: fi.Times.Created, MFTChanged: fi.Times.MFTChanged, Accessed: fi.Times.Accessed,
		LinkCount: fi.LinkCount, ReparseTag: fi.ReparseTag, Compressed: fi.Compressed, Sparse: fi.Sparse,
	}
	for _, n := range fi.Names {
		if n.Name == name {
			le.Namespace = n.Namespace.String()
			le.FNModified = n.Times.Modified
		}
	}
	if s := fi.ShortName(); s != "" && s != name {
		le.ShortName = s
	}
	return le
}
