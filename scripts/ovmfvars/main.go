package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/unbrick/unbrick/image"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "ovmfvars:", err)
		os.Exit(1)
	}
}

const usage = `usage:
  ovmfvars list [-all] STORE
  ovmfvars set -name NAME -guid GUID (-data FILE | -x509 CERT.der [-owner GUID]) [-attrs N] IN OUT
  ovmfvars shim-ca -ca 2011|2023 SHIM OUT.der
  ovmfvars shim-sbatlevel -which latest|automatic SHIM OUT
  ovmfvars strip-shim -keep 2011|2023 IN OUT`

func run(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("no command\n%s", usage)
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	switch args[0] {
	case "list":
		all := fs.Bool("all", false, "also list deleted and superseded copies")
		if err := parse(fs, args[1:], 1); err != nil {
			return err
		}
		return list(fs.Arg(0), *all, stdout)
	case "set":
		name := fs.String("name", "", "variable name")
		guid := fs.String("guid", "", "vendor GUID")
		dataFile := fs.String("data", "", "file holding the data")
		x509File := fs.String("x509", "", "DER certificate: data is one EFI_SIGNATURE_LIST of type EFI_CERT_X509_GUID")
		owner := fs.String("owner", MicrosoftOwnerGUID.String(), "signature owner GUID for -x509")
		attrs := fs.String("attrs", "", "attributes (e.g. 0x3); default: those of the live copy")
		if err := parse(fs, args[1:], 2); err != nil {
			return err
		}
		return set(*name, *guid, *dataFile, *x509File, *owner, *attrs, fs.Arg(0), fs.Arg(1), stdout)
	case "get":
		name := fs.String("name", "", "variable name")
		guid := fs.String("guid", "", "vendor GUID")
		if err := parse(fs, args[1:], 2); err != nil {
			return err
		}
		return get(*name, *guid, fs.Arg(0), fs.Arg(1))
	case "shim-ca":
		ca := fs.String("ca", "2023", "2011 or 2023")
		if err := parse(fs, args[1:], 2); err != nil {
			return err
		}
		name, err := caName(*ca)
		if err != nil {
			return err
		}
		data, err := readFile(fs.Arg(0), image.MaxEFIBinary)
		if err != nil {
			return err
		}
		cert, err := image.CACertificate(filepath.Base(fs.Arg(0)), data, name)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: subject %q, issuer %q, serial %x, %d bytes\n", fs.Arg(1), cert.Subject.String(), cert.Issuer.String(), cert.SerialNumber, len(cert.Raw))
		return writeFile(fs.Arg(1), cert.Raw)
	case "shim-sbatlevel":
		which := fs.String("which", "latest", "latest or automatic")
		if err := parse(fs, args[1:], 2); err != nil {
			return err
		}
		data, err := readFile(fs.Arg(0), image.MaxEFIBinary)
		if err != nil {
			return err
		}
		auto, latest, err := image.ShimSbatLevelPayloads(filepath.Base(fs.Arg(0)), data)
		if err != nil {
			return err
		}
		var p []byte
		switch *which {
		case "latest":
			p = latest
		case "automatic":
			p = auto
		default:
			return fmt.Errorf("-which %q: want latest or automatic", *which)
		}
		return writeFile(fs.Arg(1), p)
	case "strip-shim":
		keep := fs.String("keep", "2011", "keep the signatures of this CA (2011 or 2023)")
		if err := parse(fs, args[1:], 2); err != nil {
			return err
		}
		name, err := caName(*keep)
		if err != nil {
			return err
		}
		data, err := readFile(fs.Arg(0), image.MaxEFIBinary)
		if err != nil {
			return err
		}
		out, err := StripSignatures(filepath.Base(fs.Arg(0)), data, name)
		if err != nil {
			return err
		}
		sigs, _, _, err := image.EFISignatures(filepath.Base(fs.Arg(1)), out)
		if err != nil {
			return fmt.Errorf("the stripped binary does not parse back: %w", err)
		}
		for _, s := range sigs {
			if !s.Valid() || s.CA != name {
				return fmt.Errorf("the stripped binary still holds signature %q (%s), valid %v", s.SignerName(), s.Issuer, s.Valid())
			}
			fmt.Fprintf(stdout, "%s: kept entry %d: %s (%s)\n", fs.Arg(1), s.Entry, s.SignerName(), s.Issuer)
		}
		return writeFile(fs.Arg(1), out)
	}
	return fmt.Errorf("unknown command %q\n%s", args[0], usage)
}

func parse(fs *flag.FlagSet, args []string, nargs int) error {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%s: %w\n%s", fs.Name(), err, usage)
	}
	if fs.NArg() != nargs {
		return fmt.Errorf("%s: want %d file arguments, got %d\n%s", fs.Name(), nargs, fs.NArg(), usage)
	}
	return nil
}

func list(path string, all bool, w io.Writer) error {
	data, err := readFile(path, MaxStoreFile)
	if err != nil {
		return err
	}
	s, err := ParseStore(data)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	vars := s.LiveVariables()
	if all {
		vars = s.Variables
	}
	for _, v := range vars {
		state := ""
		if all {
			state = fmt.Sprintf(" state=%#02x", v.State)
		}
		fmt.Fprintf(w, "%s %v attrs=%s size=%d%s\n", v.Name, v.GUID, AttrString(v.Attributes), len(v.Data), state)
	}
	fmt.Fprintf(w, "# %d live variables, %d headers, %d bytes free\n", len(s.LiveVariables()), len(s.Variables), s.Free())
	return nil
}

func set(name, guid, dataFile, x509File, owner, attrs, in, out string, w io.Writer) error {
	if name == "" || guid == "" || (dataFile == "") == (x509File == "") {
		return fmt.Errorf("set: -name, -guid and one of -data, -x509 are required\n%s", usage)
	}
	g, err := ParseGUID(guid)
	if err != nil {
		return err
	}
	var payload []byte
	if dataFile != "" {
		if payload, err = readFile(dataFile, MaxStoreFile); err != nil {
			return err
		}
	} else {
		og, err := ParseGUID(owner)
		if err != nil {
			return err
		}
		der, err := readFile(x509File, 64<<10)
		if err != nil {
			return err
		}
		if payload, err = X509SignatureList(der, og); err != nil {
			return fmt.Errorf("%s: %w", x509File, err)
		}
	}
	var a *uint32
	if attrs != "" {
		n, err := strconv.ParseUint(attrs, 0, 32)
		if err != nil {
			return fmt.Errorf("-attrs %q: %w", attrs, err)
		}
		v := uint32(n)
		a = &v
	}
	data, err := readFile(in, MaxStoreFile)
	if err != nil {
		return err
	}
	s, err := ParseStore(data)
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	v, err := s.Set(name, g, payload, a)
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	if _, err := ParseStore(s.Bytes()); err != nil {
		return fmt.Errorf("%s: the edited store does not parse back: %w", in, err)
	}
	fmt.Fprintf(w, "%s: %s %v attrs=%s size=%d written at %#x\n", out, v.Name, v.GUID, AttrString(v.Attributes), len(v.Data), v.Offset)
	return writeFile(out, s.Bytes())
}

// get writes the data of the live variable name/guid to out; a missing
// variable is an error naming the store.
func get(name, guid, store, out string) error {
	g, err := ParseGUID(guid)
	if err != nil {
		return err
	}
	data, err := readFile(store, MaxStoreFile)
	if err != nil {
		return err
	}
	s, err := ParseStore(data)
	if err != nil {
		return fmt.Errorf("%s: %w", store, err)
	}
	v := s.Live(name, g)
	if v == nil {
		return fmt.Errorf("%s: no live variable %s-%v", store, name, g)
	}
	return writeFile(out, v.Data)
}

func readFile(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, limit)
	}
	return b, nil
}

// writeFile writes through a temporary file and a rename, so OUT may be IN.
func writeFile(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename %s: %w", tmp, err)
	}
	return nil
}
