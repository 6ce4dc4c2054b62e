package ntfs

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/unbrick/unbrick/ntfs/internal/ntfstest"
)

// These tests format a volume with mkntfs, fill it through ntfs-3g (FUSE),
// and read it with this package: 4 KiB sectors and MFT records, an 8 KiB
// cluster (index VCNs in 512-byte units), multi-level directories with 8.3
// names, sparse, compressed, resident and empty files, named streams and a
// file with so many hard links that ntfs-3g gives it an attribute list.
// The witnesses are ntfs-3g (which wrote the content we compare against)
// and ntfsls.

type madeFile struct {
	path  string
	data  []byte
	links int // extra hard links made (file then has links+1 names)
}

// requireMountTools skips without mkntfs, ntfs-3g, root or /dev/fuse (CI
// must have them).
func requireMountTools(t *testing.T) {
	t.Helper()
	var missing []string
	for _, tool := range []string{"mkntfs", "ntfs-3g", "setfattr", "ntfsls"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if os.Geteuid() != 0 {
		missing = append(missing, "root")
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		missing = append(missing, "/dev/fuse")
	}
	if len(missing) > 0 {
		if os.Getenv("CI") != "" {
			t.Fatalf("missing %v; CI must provide them", missing)
		}
		t.Skipf("missing %v: skipping the mkntfs/ntfs-3g volume test", missing)
	}
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

// makeVolume formats a sparse 64 MiB file and fills it through ntfs-3g.
func makeVolume(t *testing.T, mkntfsArgs []string, compression bool) (img string, files []madeFile) {
	t.Helper()
	dir := t.TempDir()
	img = filepath.Join(dir, "vol.ntfs")
	f, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	f.Truncate(64 << 20)
	f.Close()
	run(t, "mkntfs", append(append([]string{"-F", "-Q", "-L", "made"}, mkntfsArgs...), img)...)
	mnt := filepath.Join(dir, "mnt")
	os.Mkdir(mnt, 0o755)
	opts := "rw"
	if compression {
		opts += ",compression"
	}
	run(t, "ntfs-3g", "-o", opts, img, mnt)
	mounted := true
	defer func() {
		if mounted {
			exec.Command("umount", mnt).Run()
		}
	}()
	rng := rand.New(rand.NewPCG(1, 2))
	write := func(rel string, data []byte) {
		p := filepath.Join(mnt, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, madeFile{path: rel, data: data})
	}
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	// A big directory: a multi-level $I30, some names with 8.3 aliases.
	for i := 0; i < 700; i++ {
		name := fmt.Sprintf("Big/file-%04d-%s.dat", i, strings.Repeat("x", i%23))
		write(name, random(rng.IntN(3000)))
		if i%7 == 0 {
			run(t, "setfattr", "-h", "-v", fmt.Sprintf("F%06d.DAT", i), "-n", "system.ntfs_dos_name", filepath.Join(mnt, name))
		}
	}
	write("small.txt", []byte("resident content\n"))
	write("empty", nil)
	write("Mixed Case Name.TXT", random(5000))
	write("deep/a/b/c/d/leaf.bin", random(70000))
	// Sparse: a hole, data, a hole, data, a hole at the end.
	sp := make([]byte, 3<<20)
	copy(sp[1<<20:], random(10000))
	copy(sp[2<<20+123:], random(5000))
	sparsePath := filepath.Join(mnt, "sparse.bin")
	sf, err := os.Create(sparsePath)
	if err != nil {
		t.Fatal(err)
	}
	sf.WriteAt(sp[1<<20:1<<20+10000], 1<<20)
	sf.WriteAt(sp[2<<20+123:2<<20+123+5000], 2<<20+123)
	sf.Truncate(int64(len(sp)))
	sf.Close()
	files = append(files, madeFile{path: "sparse.bin", data: sp})
	// Hard links with long names: their $FILE_NAMEs overflow the record.
	hl := random(20000)
	write("links/original.bin", hl)
	for i := 0; i < 40; i++ {
		ln := filepath.Join(mnt, "links", fmt.Sprintf("link-%02d-%s", i, strings.Repeat("L", 100)))
		if err := os.Link(filepath.Join(mnt, "links", "original.bin"), ln); err != nil {
			t.Fatal(err)
		}
	}
	files[len(files)-1].links = 40
	// A named stream ($DATA:"extra") via ntfs-3g's xattr interface.
	run(t, "setfattr", "-n", "user.extra", "-v", "stream-content", filepath.Join(mnt, "small.txt"))
	if compression {
		os.Mkdir(filepath.Join(mnt, "comp"), 0o755)
		run(t, "setfattr", "-h", "-v", "0x00000800", "-n", "system.ntfs_attrib_be", filepath.Join(mnt, "comp"))
		var text bytes.Buffer
		for i := 0; text.Len() < 300000; i++ {
			fmt.Fprintf(&text, "line %d of a compressible text %d\n", i, i*i%977)
		}
		write("comp/text.txt", text.Bytes())
		write("comp/random.bin", random(100000)) // incompressible units stay raw
		mixed := append(bytes.Repeat([]byte("A"), 70000), random(50000)...)
		write("comp/mixed.bin", mixed)
	}
	// An object ID and a reparse point (a relative symbolic link, buffer
	// per [MS-FSCC] 2.1.2.4), set through ntfs-3g's xattr interface;
	// ntfs-3g must then resolve the link itself.
	write("objfile", []byte("has an object id\n"))
	run(t, "setfattr", "-n", "system.ntfs_object_id", "-v", "0x"+strings.Repeat("0123456789abcdef", 2)+strings.Repeat("0", 96), filepath.Join(mnt, "objfile"))
	os.WriteFile(filepath.Join(mnt, "rp-link"), nil, 0o644)
	run(t, "setfattr", "-n", "system.ntfs_reparse_data", "-v", "0x"+symlinkReparse("small.txt"), filepath.Join(mnt, "rp-link"))
	// A WOF (CompactOS) reparse point: WOF header version 1, provider 2
	// (file), file info version 1, algorithm 1 (LZX).
	os.WriteFile(filepath.Join(mnt, "wof.dll"), nil, 0o644)
	run(t, "setfattr", "-n", "system.ntfs_reparse_data", "-v", "0x170000801000000001000000020000000100000001000000", filepath.Join(mnt, "wof.dll"))

	// Fragment $MFT: fill the volume, free three holes, then create
	// enough files that ntfs-3g grows $MFT into them.
	free, err := ntfstest.FreeBytes(mnt)
	if err != nil {
		t.Fatal(err)
	}
	chunk := bytes.Repeat([]byte{'a'}, int(free/12))
	os.Mkdir(filepath.Join(mnt, "fill"), 0o755)
	for i := 0; i < 12; i++ {
		if err := os.WriteFile(filepath.Join(mnt, "fill", fmt.Sprint(i)), chunk, 0o644); err != nil {
			break // full: fine
		}
	}
	for _, i := range []int{3, 6, 9} {
		os.Remove(filepath.Join(mnt, "fill", fmt.Sprint(i)))
	}
	for i := 0; i < 3000; i++ {
		p := fmt.Sprintf("many/e%04d", i)
		if i%100 == 0 {
			write(p, []byte(p))
		} else {
			write(p, nil)
		}
	}
	run(t, "umount", mnt)
	// Mounted afresh (no cached inode), ntfs-3g must resolve the link.
	run(t, "ntfs-3g", "-o", "ro", img, mnt)
	target, err := os.Readlink(filepath.Join(mnt, "rp-link"))
	run(t, "umount", mnt)
	mounted = false
	if err != nil || target != "small.txt" {
		t.Fatalf("ntfs-3g reads the reparse point as %q, %v", target, err)
	}
	return img, files
}

// symlinkReparse builds a relative symbolic-link reparse buffer, in hex.
func symlinkReparse(target string) string {
	name := toUTF16LE(target)
	var b bytes.Buffer
	le := func(v any) { binary.Write(&b, binary.LittleEndian, v) }
	le(uint32(ReparseTagSymlink))
	le(uint16(12 + 2*len(name)))
	le(uint16(0))
	le(uint16(0))         // substitute name offset
	le(uint16(len(name))) // substitute name length
	le(uint16(len(name))) // print name offset
	le(uint16(len(name))) // print name length
	le(uint32(1))         // SYMLINK_FLAG_RELATIVE
	b.Write(name)
	b.Write(name)
	return hex.EncodeToString(b.Bytes())
}

func toUTF16LE(s string) []byte {
	var out []byte
	for _, u := range utf16.Encode([]rune(s)) {
		out = append(out, byte(u), byte(u>>8))
	}
	return out
}

func TestMadeVolumes(t *testing.T) {
	requireMountTools(t)
	cases := []struct {
		name        string
		args        []string
		record      int
		compression bool
	}{
		{"4k-sectors-4k-records", []string{"-s", "4096", "-c", "4096"}, 4096, true},
		{"8k-clusters", []string{"-s", "512", "-c", "8192"}, 1024, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			img, files := makeVolume(t, tc.args, tc.compression)
			f, err := os.Open(img)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			st, _ := f.Stat()
			v, err := Open(f, st.Size())
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if v.Boot().RecordSize != tc.record {
				t.Fatalf("record size %d, want %d", v.Boot().RecordSize, tc.record)
			}
			if v.Info().Label != "made" {
				t.Errorf("label %q", v.Info().Label)
			}
			for _, mf := range files {
				r, err := v.Open(mf.path)
				if err != nil {
					t.Errorf("Open(%q): %v", mf.path, err)
					continue
				}
				got, err := io.ReadAll(r)
				if err != nil {
					t.Errorf("read %q: %v", mf.path, err)
					continue
				}
				if sha256.Sum256(got) != sha256.Sum256(mf.data) {
					t.Errorf("%q: content differs (%d bytes read, %d written)", mf.path, len(got), len(mf.data))
				}
				// ReadAt at an odd offset across a boundary.
				if len(mf.data) > 5000 {
					buf := make([]byte, 4500)
					if _, err := r.ReadAt(buf, 333); err != nil || !bytes.Equal(buf, mf.data[333:333+4500]) {
						t.Errorf("%q: ReadAt(333) differs (err %v)", mf.path, err)
					}
				}
				if mf.links > 0 {
					fi, err := v.Stat(mf.path)
					if err != nil {
						t.Fatal(err)
					}
					if int(fi.LinkCount) != mf.links+1 || len(fi.Names) != mf.links+1 {
						t.Errorf("%q: link count %d, %d names; want %d", mf.path, fi.LinkCount, len(fi.Names), mf.links+1)
					}
					if !fi.HasAttrList || len(fi.Extensions) == 0 {
						t.Errorf("%q: expected an attribute list with extension records (has %v, %d)", mf.path, fi.HasAttrList, len(fi.Extensions))
					}
					last := fmt.Sprintf("links/LINK-39-%s", strings.Repeat("l", 100))
					if fl, err := v.Stat(last); err != nil || fl.Ref != fi.Ref {
						t.Errorf("lookup of a link name in an extension record: %v", err)
					}
				}
			}
			fi, err := v.Stat("sparse.bin")
			if err != nil || !fi.Sparse || fi.DiskSize >= 1<<20 || fi.DiskSize < 15000 {
				t.Errorf("sparse.bin: %+v, %v", fi, err)
			}
			if tc.compression {
				fi, err := v.Stat("comp/text.txt")
				if err != nil || !fi.Compressed || fi.DiskSize >= fi.Size/2 {
					t.Errorf("comp/text.txt not compressed: %v", err)
				}
			}
			if fi, err := v.Stat("objfile"); err != nil || !fi.HasObjectID {
				t.Errorf("objfile: no object ID seen (%v)", err)
			}
			if fi, err := v.Stat("rp-link"); err != nil || fi.ReparseTag != ReparseTagSymlink || fi.Reparse == nil ||
				fi.Reparse.Substitute != "small.txt" || !fi.Reparse.Relative || fi.Attributes&FileAttrReparsePoint == 0 {
				t.Errorf("rp-link: reparse point not decoded: %+v %v", fi, err)
			}
			if _, err := v.Open("wof.dll"); !errors.Is(err, ErrCompressed) {
				t.Errorf("WOF-compressed file: %v, want ErrCompressed", err)
			}
			small, err := v.Lookup("SMALL.TXT")
			if err != nil {
				t.Fatal(err)
			}
			sr, err := small.OpenStream("extra")
			if err != nil {
				t.Errorf("named stream: %v", err)
			} else if b, _ := io.ReadAll(sr); string(b) != "stream-content" {
				t.Errorf("named stream content %q", b)
			}
			// Listings equal ntfsls's.
			// $MFT is fragmented, and files live in its later extents.
			if len(v.mft.runs) < 2 {
				t.Errorf("$MFT has %d extents; the test wanted a fragmented MFT", len(v.mft.runs))
			}
			last, err := v.Stat("many/e2999")
			if err != nil {
				t.Fatal(err)
			}
			firstExtentRecords := v.mft.runs[0].Length * int64(v.Boot().ClusterSize) / int64(v.Boot().RecordSize)
			if int64(last.Ref.Record()) < firstExtentRecords {
				t.Errorf("many/e2999 is record %d, inside $MFT's first extent (%d records)", last.Ref.Record(), firstExtentRecords)
			}
			t.Logf("$MFT extents: %v; many/e2999 is record %d", v.mft.runs, last.Ref.Record())
			for _, d := range []string{"/", "Big", "links", "deep/a/b/c/d", "many"} {
				ents, err := v.ReadDir(d)
				if err != nil {
					t.Fatalf("ReadDir(%q): %v", d, err)
				}
				var ours []string
				for _, e := range ents {
					if !e.IsDOS() {
						ours = append(ours, e.Name)
					}
				}
				sort.Strings(ours)
				want := ntfslsNames(t, img, "/"+d, false)
				sort.Strings(want)
				if strings.Join(ours, "\n") != strings.Join(want, "\n") {
					t.Errorf("ReadDir(%q) differs from ntfsls: %s", d, firstDiff(ours, want))
				}
			}
			// The big directory's index has internal nodes; every 8.3 alias
			// leads to its file.
			dir, _ := v.Lookup("Big")
			ix, err := dir.OpenIndex("$I30")
			if err != nil {
				t.Fatal(err)
			}
			if !ix.Root.Node.HasChildren() {
				t.Fatalf("Big has a small index")
			}
			for i := 0; i < 700; i += 7 {
				long := fmt.Sprintf("Big/file-%04d-%s.dat", i, strings.Repeat("x", i%23))
				a, err1 := v.Stat(long)
				b, err2 := v.Stat(fmt.Sprintf("big/f%06d.dat", i))
				if err1 != nil || err2 != nil || a.Ref != b.Ref || a.ShortName() != fmt.Sprintf("F%06d.DAT", i) {
					t.Errorf("8.3 lookup %d: %v %v", i, err1, err2)
				}
			}
		})
	}
}
