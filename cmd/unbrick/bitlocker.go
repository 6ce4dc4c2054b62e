package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/unbrick/unbrick/bitlocker"
	"github.com/unbrick/unbrick/internal/disk"
	"github.com/unbrick/unbrick/internal/exitcode"
	"github.com/unbrick/unbrick/internal/redact"
	"github.com/unbrick/unbrick/internal/remedy"
)

func newBitLockerCmd(e *env) *cobra.Command {
	return newGroupCmd(e, "bitlocker", "BitLocker volumes: info, decrypt",
		`BitLocker volumes: what the header and FVE metadata say (info), and the whole
plaintext volume (decrypt). TARGET is a volume image, a whole-disk image or a
block device.`,
		`  unbrick bitlocker info disk.img
  unbrick bitlocker decrypt --keys BitLockerKeys.csv --out volume.img disk.img`,
		newBitLockerInfoCmd(e), newBitLockerDecryptCmd(e))
}

func newBitLockerInfoCmd(e *env) *cobra.Command {
	c := &cobra.Command{
		Use:   "info [flags] TARGET",
		Short: "print what the BitLocker header and FVE metadata say (no key needed)",
		Long: `Prints what the BitLocker header and FVE metadata of the volume on TARGET
say, without a key: version, volume GUID, description, creation time,
encryption method, state, encrypted size, relocated boot sectors, metadata
block offsets and which copy is valid, and every key protector with its type
and ID.`,
		Example: `  unbrick bitlocker info disk.img
  unbrick bitlocker info --json --partition 3 /dev/sdb`,
		Args: args("TARGET"),
	}
	asJSON := c.Flags().Bool("json", false, "print JSON")
	partition := addPartitionFlag(c, "the only BitLocker volume")
	c.RunE = func(_ *cobra.Command, pos []string) error {
		return exit(runBitLockerInfo(e, pos[0], *partition, *asJSON))
	}
	return c
}

// runBitLockerInfo prints what the volume header and FVE metadata say.
func runBitLockerInfo(e *env, target string, partition int, asJSON bool) int {
	const prog = "unbrick bitlocker info"
	o, code, err := openTarget(e, prog, nil, remedy.OpenRequest{Target: target, Partition: partition,
		Accept: []disk.Kind{disk.BitLocker, disk.BitLockerToGo}, NoUnlock: true})
	if err != nil {
		fmt.Fprintf(e.Stderr, "%s: %v\n", prog, err)
		return code
	}
	defer o.Close()
	in := o.BitLocker.Info()
	if asJSON {
		out := struct {
			Target    string          `json:"target"`
			Partition int             `json:"partition"`
			Offset    int64           `json:"offset"`
			BitLocker *bitlocker.Info `json:"bitlocker"`
		}{o.Target.Path(), o.Candidate.Partition, o.Candidate.Offset, in}
		enc := json.NewEncoder(e.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return exitcode.Failure
		}
		return exitcode.OK
	}
	printInfo(e.Stdout, o, in)
	return exitcode.OK
}

func printInfo(w io.Writer, o *remedy.Opened, in *bitlocker.Info) {
	var b strings.Builder
	row := func(k, format string, a ...any) { fmt.Fprintf(&b, "%-24s %s\n", k+":", fmt.Sprintf(format, a...)) }
	if o.Candidate.Partition == 0 {
		row("Target", "%s (whole target is the volume)", o.Target.Path())
	} else {
		row("Target", "%s partition %d (offset %d)", o.Target.Path(), o.Candidate.Partition, o.Candidate.Offset)
	}
	row("BitLocker version", "%d (%s)", in.Version, in.VersionName)
	row("Volume GUID", "%s", in.VolumeGUID)
	row("Description", "%s", in.Description)
	if !in.Created.IsZero() {
		row("Created", "%s", in.Created.Format(time.RFC3339))
	}
	row("Encryption method", "%s (%s)", in.MethodName, in.MethodCode)
	state := string(in.State)
	if in.StateDetail != "" {
		state += " (" + in.StateDetail + ")"
	}
	row("State", "%s", state)
	if in.Suspended {
		row("Protection", "suspended (clear key present: no secret needed)")
	}
	row("Encrypted size", "%d bytes", in.EncryptedSize)
	size := fmt.Sprintf("%d bytes", in.Size)
	if in.Short {
		size += fmt.Sprintf(" (the image holds only %d: short)", in.ImageSize)
	}
	row("Volume size", "%s", size)
	row("Sector size", "%d", in.SectorSize)
	if in.Version == 1 {
		row("MFT mirror cluster", "%d (Vista boot sector patch)", in.MFTMirrorLCN)
	} else {
		row("Relocated boot sectors", "%d bytes at offset %d", in.BootSectorsSize, in.BootSectorsAt)
	}
	offs := make([]string, len(in.MetadataOffsets))
	for i, off := range in.MetadataOffsets {
		offs[i] = fmt.Sprint(off)
	}
	row("Metadata blocks", "%s (%d bytes each; copy %d used)", strings.Join(offs, ", "), in.MetadataSize, in.MetadataCopy)
	for i, c := range in.MetadataCopies {
		if c != "valid" {
			row(fmt.Sprintf("  copy %d", i+1), "%s", c)
		}
	}
	b.WriteString("Key protectors:\n")
	if len(in.Protectors) == 0 {
		b.WriteString("  (none)\n")
	}
	for _, p := range in.Protectors {
		fmt.Fprintf(&b, "  %-20s {%s}", p.Type, p.ID)
		if !p.Time.IsZero() {
			fmt.Fprintf(&b, "  %s", p.Time.Format(time.RFC3339))
		}
		b.WriteString("\n")
	}
	io.WriteString(w, b.String())
}

func newBitLockerDecryptCmd(e *env) *cobra.Command {
	c := &cobra.Command{
		Use:   "decrypt --out FILE [key flags] [flags] TARGET",
		Short: "write the whole plaintext volume",
		Long: `Writes the whole plaintext volume on TARGET to --out, as Windows shows it
(all-zero chunks left as holes in a sparse file), with progress on standard
error when it is a terminal. A suspended volume (clear key) and a volume whose
BitLocker is off need no key. Exit 3 when no key opens the volume: the
message names the recovery key ID to ask for.`,
		Example: `  unbrick bitlocker decrypt --keys BitLockerKeys.csv --out volume.img disk.img
  unbrick bitlocker decrypt --recovery-password-file rp.txt --partition 3 --out c.img /dev/sdb`,
		Args: args("TARGET"),
	}
	out := c.Flags().String("out", "", "write the plaintext volume to `FILE` (required)")
	partition := addPartitionFlag(c, "the only BitLocker volume")
	kf := addKeyFlags(c)
	c.RunE = func(_ *cobra.Command, pos []string) error {
		if *out == "" {
			return usagef("--out FILE is required")
		}
		return exit(runBitLockerDecrypt(e, *out, *partition, kf, pos))
	}
	return c
}

// runBitLockerDecrypt writes the whole plaintext volume to out.
func runBitLockerDecrypt(e *env, out string, partition int, kf *keyFlags, pos []string) int {
	const prog = "unbrick bitlocker decrypt"
	if sameFile(out, pos[0]) {
		fmt.Fprintf(e.Stderr, "%s: --out %s is the target itself\n", prog, out)
		return exitcode.Usage
	}
	o, code, err := openTarget(e, prog, kf, remedy.OpenRequest{Target: pos[0], Partition: partition,
		Accept: []disk.Kind{disk.BitLocker, disk.BitLockerToGo}})
	if err != nil {
		fmt.Fprintf(e.Stderr, "%s: %v\n", prog, err)
		return code
	}
	defer o.Close()
	f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		fmt.Fprintf(e.Stderr, "%s: %v\n", prog, err)
		return exitcode.Failure
	}
	progress := newProgress(e.Stderr, o.Size())
	err = copyVolume(f, o, progress)
	progress.done()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		fmt.Fprintf(e.Stderr, "%s: %v\n", prog, err)
		return exitcode.Failure
	}
	by, how := o.BitLocker.UnlockedBy()
	if by != "" && by != "FVEK" {
		how += " of protector {" + by + "}"
	}
	fmt.Fprintf(e.Stderr, "%s: wrote %d bytes to %s (unlocked with %s)\n", prog, o.Size(), out, how)
	return exitcode.OK
}

// copyVolume copies the whole volume to f in large chunks (the bitlocker
// package decrypts each chunk on all CPUs). All-zero chunks are skipped,
// leaving holes in a sparse output file.
func copyVolume(f *os.File, v interface {
	io.ReaderAt
	Size() int64
}, p *progress) error {
	const chunk = 8 << 20
	size := v.Size()
	bufs := [2][]byte{make([]byte, chunk), make([]byte, chunk)}
	type result struct {
		off int64
		n   int
		err error
	}
	// Read (decrypt) the next chunk while the previous one is written.
	reads := make(chan result, 1)
	slots := make(chan int, 2)
	slots <- 0
	slots <- 1
	go func() {
		defer close(reads)
		for off := int64(0); off < size; off += chunk {
			i := <-slots
			n := int(min(chunk, size-off))
			_, err := v.ReadAt(bufs[i][:n], off)
			if errors.Is(err, io.EOF) {
				err = nil
			}
			reads <- result{off, i<<32 | n, err}
			if err != nil {
				return
			}
		}
	}()
	var firstErr error
	for r := range reads {
		i, n := r.n>>32, r.n&(1<<32-1)
		if r.err != nil {
			firstErr = fmt.Errorf("read volume at offset %d: %w", r.off, r.err)
			break
		}
		if firstErr == nil && !isZero(bufs[i][:n]) {
			if _, err := f.WriteAt(bufs[i][:n], r.off); err != nil {
				firstErr = err
			}
		}
		p.add(int64(n))
		slots <- i
		if firstErr != nil {
			break
		}
	}
	go func() { // let the reader finish if we stopped early
		for range reads {
		}
	}()
	if firstErr != nil {
		return firstErr
	}
	return f.Truncate(size)
}

func isZero(b []byte) bool {
	for len(b) >= 8 {
		if b[0]|b[1]|b[2]|b[3]|b[4]|b[5]|b[6]|b[7] != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func sameFile(a, b string) bool {
	sa, err1 := os.Stat(a)
	sb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(sa, sb)
}

// progress prints a percentage on stderr when stderr is a terminal.
type progress struct {
	w         io.Writer
	total     int64
	sofar     int64
	last      time.Time
	isTTY     bool
	lastShown int
}

func newProgress(w io.Writer, total int64) *progress {
	p := &progress{w: w, total: total}
	if f, ok := redact.Unwrap(w).(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.isTTY = true
		}
	}
	return p
}

func (p *progress) add(n int64) {
	p.sofar += n
	if !p.isTTY || p.total <= 0 {
		return
	}
	pct := int(p.sofar * 100 / p.total)
	if pct != p.lastShown && time.Since(p.last) > 200*time.Millisecond {
		p.last = time.Now()
		p.lastShown = pct
		fmt.Fprintf(p.w, "\r%3d%% (%d of %d MiB)", pct, p.sofar>>20, p.total>>20)
	}
}

func (p *progress) done() {
	if p.isTTY && p.lastShown > 0 {
		fmt.Fprint(p.w, "\r\033[K")
	}
}
