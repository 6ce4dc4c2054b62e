package disk

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/unbrick/unbrick/internal/testcorpus"
)

// expectedKind maps a manifest partition to the kind its content must be
// recognised as. The manifest was written by the corpus build (sgdisk,
// mkntfs, mkfs.vfat, dislocker), not by this package.
func expectedKind(p map[string]any) Kind {
	switch p["filesystem"] {
	case "ntfs":
		return NTFS
	case "bitlocker(ntfs)":
		return BitLocker
	case "fat32":
		return FAT
	}
	return Empty // the MSR is zero-filled
}

func num(t *testing.T, v any) int64 {
	t.Helper()
	f, ok := v.(float64)
	if !ok {
		t.Fatalf("manifest number %v is %T", v, v)
	}
	return int64(f)
}

func TestCandidatesCorpusDisks(t *testing.T) {
	m := testcorpus.LoadManifest(t)
	for _, name := range m.VariantNames() {
		t.Run(name, func(t *testing.T) {
			v := m.Variant(t, name)
			img := testcorpus.Disk(t, name)
			tg, err := OpenTarget(img, false)
			if err != nil {
				t.Fatal(err)
			}
			defer tg.Close()
			if tg.Size() != num(t, v["size"]) {
				t.Errorf("size %d, manifest %v", tg.Size(), v["size"])
			}
			cands, err := tg.Candidates()
			if err != nil {
				t.Fatal(err)
			}
			parts := v["partitions"].([]any)
			if len(cands) != len(parts) {
				t.Fatalf("%d candidates, manifest lists %d partitions:\n%v", len(cands), len(parts), cands)
			}
			scheme := v["partition_table"].(string)
			for i, pa := range parts {
				p := pa.(map[string]any)
				c := cands[i]
				if int64(c.Partition) != num(t, p["index"]) {
					t.Errorf("candidate %d: partition %d, manifest index %v", i, c.Partition, p["index"])
				}
				if c.Scheme != scheme || c.SectorSize != 512 {
					t.Errorf("partition %d: scheme %s/%d, want %s/512", c.Partition, c.Scheme, c.SectorSize, scheme)
				}
				if c.Offset != num(t, p["start_lba"])*512 || c.Size != num(t, p["sectors"])*512 {
					t.Errorf("partition %d: offset %d size %d, manifest LBA %v x %v sectors", c.Partition, c.Offset, c.Size, p["start_lba"], p["sectors"])
				}
				if want := expectedKind(p); c.Kind != want {
					t.Errorf("partition %d (%v): kind %v, want %v", c.Partition, p["role"], c.Kind, want)
				}
				if c.Truncated || c.Note != "" {
					t.Errorf("partition %d: truncated=%v note=%q", c.Partition, c.Truncated, c.Note)
				}
				switch scheme {
				case "gpt":
					if c.TypeGUID != p["type_guid"] || c.PartitionGUID != p["unique_guid"] || c.Name != p["name"] {
						t.Errorf("partition %d: type %s guid %s name %q; manifest %v %v %v", c.Partition, c.TypeGUID, c.PartitionGUID, c.Name, p["type_guid"], p["unique_guid"], p["name"])
					}
					if got := fmt.Sprintf("0x%016x", c.Attributes); got != p["attributes"] {
						t.Errorf("partition %d: attributes %s, manifest %v", c.Partition, got, p["attributes"])
					}
					if c.TypeName != p["type"] && !(p["type"] == "Microsoft reserved" && c.TypeName == "Microsoft reserved") {
						t.Errorf("partition %d: type name %q, manifest %q", c.Partition, c.TypeName, p["type"])
					}
				case "mbr":
					if fmt.Sprintf("0x%02x", c.MBRType) != p["mbr_type"] || c.Active != p["active"].(bool) {
						t.Errorf("partition %d: type 0x%02x active %v; manifest %v %v", c.Partition, c.MBRType, c.Active, p["mbr_type"], p["active"])
					}
				}
				if p["filesystem"] == "fat32" && c.Label != p["label"] {
					t.Errorf("ESP label %q, manifest %v", c.Label, p["label"])
				}
			}

			// The OS volume: Select picks it by kind, its Section starts
			// with the volume signature and is complete.
			osIdx := int(num(t, v["os_partition_index"]))
			osv := v["os_volume"].(map[string]any)
			want := NTFS
			if osv["encryption"] != "none" {
				want = BitLocker
			}
			var sel *Candidate
			if want == BitLocker {
				sel, err = tg.Select(0, BitLocker)
			} else {
				// Plain disks hold two NTFS volumes (OS + recovery or
				// System Reserved): ambiguous without --partition.
				_, err = tg.Select(0, NTFS)
				var se *SelectError
				if !errors.As(err, &se) || !se.Ambiguous() || !strings.Contains(err.Error(), "--partition N") {
					t.Fatalf("Select(0, NTFS) on a two-NTFS disk: %v", err)
				}
				sel, err = tg.Select(osIdx, NTFS)
			}
			if err != nil {
				t.Fatal(err)
			}
			if sel.Partition != osIdx || sel.Offset != num(t, osv["offset_bytes"]) || sel.Size != num(t, osv["size_bytes"]) {
				t.Fatalf("selected %v, manifest OS partition %d at %v size %v", sel, osIdx, osv["offset_bytes"], osv["size_bytes"])
			}
			sec := tg.Section(sel)
			if sec.Short() || sec.Size() != sel.Size {
				t.Errorf("OS section short=%v size=%d", sec.Short(), sec.Size())
			}
			b := make([]byte, 11)
			if _, err := sec.ReadAt(b, 0); err != nil {
				t.Fatal(err)
			}
			sig := map[Kind]string{BitLocker: "-FVE-FS-", NTFS: "NTFS    "}[want]
			if string(b[3:]) != sig {
				t.Errorf("OS volume starts %q", b)
			}
			if _, err := sec.WriteAt([]byte{0}, 0); !errors.Is(err, ErrReadOnly) {
				t.Errorf("write through read-only target: %v", err)
			}
			if want == NTFS {
				if d := num(t, osv["ntfs"].(map[string]any)["total_sectors"]); sel.Declared != (d+1)*512 {
					t.Errorf("NTFS declared %d, manifest total_sectors %d", sel.Declared, d)
				}
			}
		})
	}
}

// TestCandidatesCorpusSources: the raw source volumes are bare BitLocker
// volumes, cut short by their authors: Partition 0, BitLocker, short by
// exactly what the FVE header's encrypted size says (manifest).
func TestCandidatesCorpusSources(t *testing.T) {
	m := testcorpus.LoadManifest(t)
	for _, s := range m.Sources {
		file := s["file"].(string)
		if !strings.HasSuffix(file, ".bin.gz") {
			continue
		}
		t.Run(s["name"].(string), func(t *testing.T) {
			img := testcorpus.Decompress(t, file)
			tg, err := OpenTarget(img, true)
			if err != nil {
				t.Fatal(err)
			}
			defer tg.Close()
			cands, err := tg.Candidates()
			if err != nil {
				t.Fatal(err)
			}
			if len(cands) != 1 || cands[0].Partition != 0 || cands[0].Kind != BitLocker || cands[0].Scheme != SchemeVolume {
				t.Fatalf("candidates %v", cands)
			}
			c := cands[0]
			size := num(t, s["size"])
			want := size
			if bl, ok := s["bitlocker"].(map[string]any); ok {
				if ev := num(t, bl["encrypted_volume_size"]); ev > want {
					want = ev
				}
			}
			if _, known := s["bitlocker"]; !known {
				// eow_partial / decrypted: the manifest does not give the
				// volume size; the FVE header's is all there is.
				want = c.Size
			}
			if c.Size != want || c.Size < size || c.Truncated != (want > size) {
				t.Fatalf("size %d truncated %v; want %d (image %d)", c.Size, c.Truncated, want, size)
			}
			sel, err := tg.Select(0)
			if err != nil || sel.Partition != 0 {
				t.Fatalf("Select: %v %v", sel, err)
			}
			if _, err := tg.Select(3); err == nil || !strings.Contains(err.Error(), "omit --partition") {
				t.Errorf("Select(3) on a bare volume: %v", err)
			}
			sec := tg.Section(sel)
			if sec.Short() != c.Truncated {
				t.Fatalf("Short %v", sec.Short())
			}
			if !sec.Short() {
				return
			}
			if !strings.Contains(sec.ShortWarning(), strconv.FormatInt(want-size, 10)) {
				t.Errorf("warning %q", sec.ShortWarning())
			}
			// Reads straddling the end: image bytes, then zeros.
			buf := make([]byte, 8192)
			for i := range buf {
				buf[i] = 0xaa
			}
			n, err := sec.ReadAt(buf, size-4096)
			if n != len(buf) || err != nil {
				t.Fatalf("read across the end: %d %v", n, err)
			}
			img0 := make([]byte, 4096)
			if _, err := tg.ReadAt(img0, size-4096); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf[:4096], img0) || !allZero(buf[4096:]) {
				t.Errorf("read across the end: wrong bytes")
			}
			if _, err := sec.ReadAt(buf, want); err == nil {
				t.Errorf("read past the volume end: no error")
			}
			if _, err := sec.WriteAt([]byte{1}, 0); !errors.Is(err, ErrShortImage) {
				t.Errorf("write to a short image: %v", err)
			}
		})
	}
}
