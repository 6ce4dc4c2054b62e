// Package rules decides which files of an offline Windows volume are faulty.
//
// Status: usable. Builtin() (rule crowdstrike-2024-07-19), Parse/ParseFile
// for --rules files, LoadPack for signed packs, Set.Evaluate (one file), Set.Decide (a host's files,
// with max_files and max_files_per_host), Set.Dirs (where to look),
// Verdict.Cause (why a file needs review).
//
// # Built-in rule
//
// crowdstrike-2024-07-19: Windows/System32/drivers/CrowdStrike/C-00000291*.sys
// (case-insensitive) is faulty when its $STANDARD_INFORMATION last-write
// time is in [2024-07-19 04:09:00, 05:27:00) UTC or its content is all zero
// bytes; a copy written at or after 05:27:00 UTC is good and stays; any
// other match (a host whose clock was wrong, say) is needs-review, never
// already-clean. An all-zero file is faulty whatever its time.
//
// # Rules file (--rules FILE)
//
// JSON, UTF-8, unknown members refused:
//
//	{
//	  "format": "unbrick-rules/1",
//	  "max_files_per_host": 8,                 // optional, 1..100, default 8: more deletions on one host, all rules together -> all needs-review
//	  "rules": [{
//	    "id": "vendor-2025-03-01",            // required, unique
//	    "description": "what and why",         // optional
//	    "directory": "Windows/System32/drivers/Vendor", // relative to the volume root
//	    "name": "chan-17*.sys",                // glob: * ? [a-z]; case-insensitive; >= 3 literal characters
//	    "max_files": 4,                        // 1..100, default 4: more deletions on one host -> all needs-review
//	    "faulty_when": [                       // required; any condition makes the file faulty
//	      {"modified_from": "2025-03-01T10:00:00Z", "modified_before": "2025-03-01T11:30:00Z"},
//	      {"sha256": ["<64 hex>", "..."]},
//	      {"all_zero": true},
//	      {"min_size": 1000, "max_size": 2000, "modified_before": "2025-03-02T00:00:00Z"}
//	    ],
//	    "good_when": [{"modified_from": "2025-03-01T11:30:00Z"}]   // optional
//	  }]
//	}
//
// A condition holds when all of its members hold: modified_from (inclusive)
// and modified_before (exclusive) are RFC 3339 times with a zone, compared
// with the $STANDARD_INFORMATION last-write time; min_size and max_size are
// inclusive byte counts; sha256 lists digests of known-bad content; all_zero
// means non-empty content of only zero bytes. A file that matches directory
// and name is delete when a faulty_when condition holds, else keep when a
// good_when condition holds, else needs-review. A needs-review verdict
// carries a Cause naming why (a faulty_when window, size bound, digest or
// all_zero test that did not hold; max_files; max_files_per_host; a
// directory; unreadable content), and its Reason lists each failed member
// ("faulty_when[0]: size 500 bytes, not within [1000, 2000]"). Causes of
// several files combine with |; Cause.String names them for a host-level
// message.
//
// Safety: the directory must lie under the allowlist (default
// Windows/System32/drivers/<vendor>/, any vendor, or deeper) and not under
// the denylist (default Windows/System32/drivers/etc, which holds the
// hosts file, and anything below it); absolute paths, drive letters, "."
// and ".." are refused; a rule never deletes a directory; a rule that
// would delete more than max_files files on one volume deletes none of
// them, and when the rules together would delete more than
// max_files_per_host (default 8, at most 100) files on one volume none is
// deleted (they become needs-review). Every error names the file, line,
// rule and field. ParseFile reads through internal/inputfile: a device,
// FIFO or directory, or a file over 4 MiB, is refused.
//
// # Packs, signatures and allowed signers
//
// A rules file may carry pack metadata: id, version, expires (an RFC 3339
// full-date, good through that day UTC, or a date-time) and
// max_hosts_per_run; all optional, so unbrick-rules/1 files stay valid. A
// rule may say "action": "disable-service" with "service": "NAME" (1..256
// characters, no backslash or slash; Rule.Action, Rule.Service); rules
// without action delete files. Set.Unsupported lists the rules an engine
// cannot carry out.
//
// LoadPack reads PACK and its detached signature PACK.sig and checks it:
// the sshsig format of OpenSSH, PROTOCOL.sshsig
// (https://github.com/openssh/openssh-portable/blob/master/PROTOCOL.sshsig:
// armor "-----BEGIN SSH SIGNATURE-----", MAGIC "SSHSIG", version 1,
// publickey, namespace, reserved, hash_algorithm sha256/sha512, and a
// signature over MAGIC || namespace || reserved || hash_algorithm ||
// H(message)), namespace exactly "unbrick-rules", key types ed25519,
// ecdsa and rsa (rsa-sha2-256/512). The signature is verified with
// golang.org/x/crypto/ssh (ParsePublicKey, PublicKey.Verify); the format
// code here is unbrick's own. The key must be listed in an allowed-signers
// file, the format of the ALLOWED SIGNERS section of ssh-keygen(1)
// (https://man.openbsd.org/ssh-keygen#ALLOWED_SIGNERS): principals,
// options namespaces="...", valid-after, valid-before, then the key as in
// authorized_keys. Refusals are *PackError values wrapping ErrUnsigned,
// ErrBadSignatureFile, ErrWrongNamespace, ErrSignatureMismatch,
// ErrNoSigners, ErrUnknownSigner or ErrExpired, each with what to do next.
// PACK.sig is read whole up to 64 KiB, the allowed-signers file up to
// 1 MiB; the parsers are fuzzed (FuzzPack, FuzzAllowedSigners,
// FuzzSSHSignature) and tested against the real ssh-keygen -Y sign and
// -Y verify.
package rules
