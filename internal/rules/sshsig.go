package rules

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/ssh"
)

// Namespace is the sshsig namespace a rule pack's signature must carry:
// ssh-keygen -Y sign -n unbrick-rules.
const Namespace = "unbrick-rules"

// MaxSignatureFileSize bounds a PACK.sig file read whole. An armored
// RSA-16384 signature is under 6 KiB.
const MaxSignatureFileSize = 64 << 10

const (
	sigArmorBegin = "-----BEGIN SSH SIGNATURE-----"
	sigArmorEnd   = "-----END SSH SIGNATURE-----"
	sigMagic      = "SSHSIG"
)

// SSHSignature is a parsed detached signature in the sshsig format of
// OpenSSH (PROTOCOL.sshsig), as ssh-keygen -Y sign writes it.
type SSHSignature struct {
	PublicKey ssh.PublicKey  // the key that made the signature (not yet trusted)
	Namespace string         // e.g. "unbrick-rules"
	HashAlg   string         // "sha256" or "sha512"
	Signature *ssh.Signature // over the signed-data blob
}

// ParseSSHSignature parses an armored sshsig signature ("-----BEGIN SSH
// SIGNATURE-----"). It checks the structure only (magic, version 1, a
// public key of a supported type, a known hash algorithm, a signature
// whose algorithm fits the key); Verify checks it against a message. It
// never panics on any input.
func ParseSSHSignature(armored []byte) (*SSHSignature, error) {
	text := strings.TrimSpace(strings.ReplaceAll(string(armored), "\r\n", "\n"))
	body, ok := strings.CutPrefix(text, sigArmorBegin)
	if !ok {
		return nil, fmt.Errorf("does not start with %q (is it the .sig ssh-keygen -Y sign wrote?)", sigArmorBegin)
	}
	body, ok = strings.CutSuffix(body, sigArmorEnd)
	if !ok {
		return nil, fmt.Errorf("does not end with %q (truncated?)", sigArmorEnd)
	}
	blob, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(body), ""))
	if err != nil {
		return nil, fmt.Errorf("armored body is not base64: %v", err)
	}
	return parseSigBlob(blob)
}

// sshReader reads the SSH wire encoding (RFC 4251 section 5).
type sshReader struct{ b []byte }

func (r *sshReader) uint32() (uint32, bool) {
	if len(r.b) < 4 {
		return 0, false
	}
	v := binary.BigEndian.Uint32(r.b)
	r.b = r.b[4:]
	return v, true
}

func (r *sshReader) string() ([]byte, bool) {
	n, ok := r.uint32()
	if !ok || uint64(n) > uint64(len(r.b)) {
		return nil, false
	}
	s := r.b[:n]
	r.b = r.b[n:]
	return s, true
}

func parseSigBlob(blob []byte) (*SSHSignature, error) {
	if !bytes.HasPrefix(blob, []byte(sigMagic)) {
		return nil, errors.New("no SSHSIG magic: not an sshsig signature")
	}
	r := &sshReader{b: blob[len(sigMagic):]}
	ver, ok := r.uint32()
	if !ok {
		return nil, errors.New("truncated before the version")
	}
	if ver != 1 {
		return nil, fmt.Errorf("sshsig version %d; this unbrick reads version 1", ver)
	}
	fields := make([][]byte, 5)
	names := []string{"public key", "namespace", "reserved", "hash algorithm", "signature"}
	for i := range fields {
		if fields[i], ok = r.string(); !ok {
			return nil, fmt.Errorf("truncated in the %s", names[i])
		}
	}
	if len(r.b) != 0 {
		return nil, fmt.Errorf("%d bytes after the signature", len(r.b))
	}
	pub, err := ssh.ParsePublicKey(fields[0])
	if err != nil {
		return nil, fmt.Errorf("public key: %v", err)
	}
	if err := checkKeyType(pub.Type()); err != nil {
		return nil, err
	}
	s := &SSHSignature{PublicKey: pub, Namespace: string(fields[1]), HashAlg: string(fields[3])}
	if s.HashAlg != "sha256" && s.HashAlg != "sha512" {
		return nil, fmt.Errorf("hash algorithm %q; want sha256 or sha512", s.HashAlg)
	}
	sr := &sshReader{b: fields[4]}
	format, ok1 := sr.string()
	sigBlob, ok2 := sr.string()
	if !ok1 || !ok2 {
		return nil, errors.New("signature field is truncated")
	}
	s.Signature = &ssh.Signature{Format: string(format), Blob: sigBlob}
	if len(sr.b) > 0 {
		// Security-key signatures carry flags and a counter here; the
		// key types unbrick accepts do not.
		return nil, errors.New("signature field has trailing data")
	}
	if err := checkSigFormat(pub.Type(), s.Signature.Format); err != nil {
		return nil, err
	}
	return s, nil
}

// checkKeyType accepts the key types a rule pack may be signed with:
// Ed25519, ECDSA (P-256, P-384, P-521) and RSA.
func checkKeyType(t string) error {
	switch t {
	case ssh.KeyAlgoED25519, ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521, ssh.KeyAlgoRSA:
		return nil
	}
	return fmt.Errorf("key type %q is not accepted for rule packs: sign with an ed25519, ecdsa or rsa key", t)
}

// checkSigFormat refuses RSA signatures with SHA-1 (ssh-rsa), as
// ssh-keygen does, and a signature algorithm that does not fit the key.
func checkSigFormat(keyType, format string) error {
	if keyType == ssh.KeyAlgoRSA {
		if format == ssh.KeyAlgoRSASHA256 || format == ssh.KeyAlgoRSASHA512 {
			return nil
		}
		return fmt.Errorf("RSA signature algorithm %q; want rsa-sha2-512 or rsa-sha2-256 (ssh-rsa uses SHA-1)", format)
	}
	if format != keyType {
		return fmt.Errorf("signature algorithm %q does not fit the %s key", format, keyType)
	}
	return nil
}

// signedData builds the blob the signer signed (PROTOCOL.sshsig): MAGIC,
// namespace, reserved, hash algorithm and H(message).
func (s *SSHSignature) signedData(message []byte) []byte {
	var h []byte
	if s.HashAlg == "sha512" {
		d := sha512.Sum512(message)
		h = d[:]
	} else {
		d := sha256.Sum256(message)
		h = d[:]
	}
	var b bytes.Buffer
	b.WriteString(sigMagic)
	for _, f := range [][]byte{[]byte(s.Namespace), nil, []byte(s.HashAlg), h} {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(f)))
		b.Write(n[:])
		b.Write(f)
	}
	return b.Bytes()
}

// Verify checks that the signature is over message by s.PublicKey. It
// does not check the namespace or whether the key is trusted.
func (s *SSHSignature) Verify(message []byte) error {
	return s.PublicKey.Verify(s.signedData(message), s.Signature)
}
