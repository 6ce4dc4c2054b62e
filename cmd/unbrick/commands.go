package main

// commands lists every subcommand, in the order the usage text shows them.
// Add a subcommand by adding one line here and a file of its own.
func commands() []command {
	return []command{
		{"version", "print the unbrick version", runVersion},
		{"bitlocker", "BitLocker volumes: info, decrypt", runBitLocker},
		{"ntfs", "low-level NTFS tools: ls, cat, rm, journal", runNTFS},
		{"image", "build the bootable USB stick image; read its logs", runImage},
		{"scan", "report Windows volumes, keys, journal state and faulty files (read-only)", runScan},
		{"fix", "delete the faulty files: plan, undo journal, apply, verify, fleet log", runFix},
		{"wizard", "guided fix for the help desk: screens, key entry, preview, confirmation code", runWizard},
		{"undo", "restore what a fix changed, from its undo journal", runUndo},
		{"keys", "check key exports; seal them into an encrypted bundle", runKeys},
		{"report", "merge fleet logs: outcome per host, keys to rotate, hosts never seen", runReport},
	}
}
