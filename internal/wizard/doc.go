// Package wizard is the help-desk guided front end of `unbrick wizard`: a
// sequence of screens over the remediation engine (internal/remedy). It
// never writes to a disk itself; it calls remedy.Scan (read-only), a
// remedy.Fix dry run for the preview, and remedy.Fix for the fix, and
// renders their reports.
//
// API (usable): Run(ctx, Config) int runs the flow and returns the exit
// code; NewTUI (full screen, charm.land/huh/v2 forms with an
// ASCII theme for the Linux VGA console and serial lines) and NewLineUI
// (accessible mode: plain numbered/line prompts) implement UI; ModeReason
// picks the accessible mode (flag, $UNBRICK_ACCESSIBLE, kernel command line
// unbrick.accessible, TERM unset/dumb, not a terminal, 0x0 terminal).
//
// Flow: welcome (version, SMBIOS machine) -> stick writability probe (log
// and undo journal directories; read-only or full stick stops here) ->
// scan -> disks and volumes (computer name, size, encryption, journal
// state) -> for each locked BitLocker volume: recovery key ID (first 8
// characters drawn large, full GUID) and the choices the volume can take
// (below): key export file, typed recovery password (validated per group with internal/keys'
// checksum rule; F1..F10 type 1..9,0), BEK file, user password, skip; three
// wrong keys offer to skip -> dry-run preview per volume (files to delete
// with size, last-write time and reason; what stays; unclean-journal
// choice) -> confirm (with several volumes to fix: all of them, one, or
// none; the others are then neither written nor logged) -> fix
// (SIGINT/SIGTERM/SIGHUP and Ctrl-C are held until the engine returns, so
// a volume is never left half-written) ->
// result per volume (status word, fleet-log confirmation_code, advice) and
// "remove the stick and restart".
//
// Key choices follow the volume's protectors: recovery password (typed or
// from a key export) only with a recovery password protector, BEK only
// with a startup key protector, password only with a password protector;
// a volume with none of them (TPM only) gets an explanation naming its
// volume and protector IDs and is skipped.
//
// Keys: the first scan uses the command line's keys and key exports; a key
// the user supplies is checked by a read-only engine scan of that volume
// alone (remedy.Hooks.Select), scoped to its BitLocker GUID
// (remedy.TypedKey.VolumeGUID). Every key that opens a volume lands in the
// run's remedy.KeyCache, and the preview and the fix run on the tracked
// volumes only, with the cache and no other key: each key is derived once
// per run (one 2^20-round stretch per fixed BitLocker volume, was three),
// and a skipped volume costs nothing more. Keys are never printed or
// logged (the fleet log names the key source and key ID only). The fix
// shows the engine's steps (remedy.Hooks.Progress) as progress lines.
package wizard
