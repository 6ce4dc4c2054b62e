#Requires -Version 5.1
#Requires -RunAsAdministrator
<#
.SYNOPSIS
Builds a WinPE USB stick or ISO that starts unbrick.exe.

.DESCRIPTION
Runs on an administrator's Windows workstation with the Windows ADK and its
WinPE add-on installed. Each step names the ADK command it relies on:

  1. copype amd64 WORKDIR                  (WinPE add-on: copype.cmd)
  2. Dism /Mount-Image  boot.wim index 1   (ADK Deployment Tools: DISM)
  3. copy unbrick.exe, the keys and unbrick.conf into X:\unbrick of the image,
     and the same settings into \unbrick on the media (writable on a USB
     stick: logs and undo journals go there)
  4. Dism /Add-Driver /Recurse             (optional storage drivers, e.g.
     Intel RST/VMD: the .inf folder from the PC maker)
  5. write Windows\System32\winpeshl.ini   (WinPE starts wpeinit, then
     X:\unbrick\start.cmd instead of a command prompt)
  6. Dism /Unmount-Image /Commit           (/Discard if any step failed)
  7. MakeWinPEMedia /UFD or /ISO           (WinPE add-on: MakeWinPEMedia.cmd),
     with /bootex when -WindowsUefiCa2023 is given

Boot managers: by default the media boots with the boot manager signed by
the "Microsoft Windows Production PCA 2011", which PCs with the BlackLotus
(CVE-2023-24932) mitigations applied refuse. -WindowsUefiCa2023 uses
MakeWinPEMedia /bootex, which puts the boot manager signed by the
"Windows UEFI CA 2023" on the media; it needs ADK 10.1.26100.2454 or later,
and PCs whose Secure Boot db does not hold that CA refuse it. See
docs/windows.md for how to tell which one a fleet needs.

The script stops on the first error ($ErrorActionPreference = 'Stop');
the mounted image is then discarded, never committed half-done.

.PARAMETER UnbrickExe
Path of unbrick.exe (GOOS=windows GOARCH=amd64 CGO_ENABLED=0 go build
-o unbrick.exe ./cmd/unbrick).

.PARAMETER Keys
Optional key bundle: a sealed keys.age (unbrick keys seal) or a key export.
A plain CSV key export is refused unless -PlaintextKeys is given: the stick
may get lost.

.PARAMETER Config
Optional unbrick.conf to put beside the keys.

.PARAMETER Drivers
Optional folders of storage drivers (.inf), each added with Dism /Add-Driver
/Recurse, e.g. the Intel RST/VMD "F6" driver folder.

.PARAMETER Mode
wizard (default): the guided wizard on screen. auto: unbrick fix on every
disk, then WinPE shuts down.

.PARAMETER WorkDir
Empty or missing folder for copype's working copy (default
$env:TEMP\UnbrickPE). An existing non-empty folder is refused.

.PARAMETER UsbDrive
Drive letter of the USB stick to write (MakeWinPEMedia /UFD): it is
FORMATTED, everything on it is lost. Give either -UsbDrive or -IsoPath.

.PARAMETER IsoPath
Path of the ISO to write (MakeWinPEMedia /ISO). An ISO is read-only:
logs then stay in WinPE's RAM disk and are lost at shutdown unless
log_url / syslog in unbrick.conf send them away.

.PARAMETER WindowsUefiCa2023
Boot manager signed by the Windows UEFI CA 2023 (MakeWinPEMedia /bootex).

.PARAMETER AdkRoot
The ADK's root folder when not found in the registry (default
"C:\Program Files (x86)\Windows Kits\10\Assessment and Deployment Kit").

.PARAMETER PlaintextKeys
Allow a key export that is not sealed.

.PARAMETER Force
Do not ask before formatting the USB stick.

.EXAMPLE
.\New-UnbrickPE.ps1 -UnbrickExe .\unbrick.exe -Keys .\keys.age -Config .\unbrick.conf -UsbDrive E:

.EXAMPLE
.\New-UnbrickPE.ps1 -UnbrickExe .\unbrick.exe -Keys .\keys.age -Drivers D:\Drivers\IntelVMD -IsoPath C:\Out\unbrick-pe.iso -WindowsUefiCa2023

.NOTES
Not run by unbrick's CI (it needs Windows and the ADK); see docs/windows.md.
Microsoft Learn: "WinPE: Create USB Bootable drive", "Copype command-line
options", "MakeWinPEMedia command-line options", "WinPE: Mount and
Customize", "Winpeshl.ini Files", "DISM Driver Servicing Command-Line
Options"; KB5025885 for the Windows UEFI CA 2023 boot manager.
#>
[CmdletBinding(DefaultParameterSetName = 'Usb')]
param(
    [Parameter(Mandatory = $true)]
    [ValidateScript({ Test-Path -LiteralPath $_ -PathType Leaf })]
    [string] $UnbrickExe,

    [ValidateScript({ Test-Path -LiteralPath $_ -PathType Leaf })]
    [string] $Keys,

    [ValidateScript({ Test-Path -LiteralPath $_ -PathType Leaf })]
    [string] $Config,

    [ValidateScript({ Test-Path -LiteralPath $_ -PathType Container })]
    [string[]] $Drivers = @(),

    [ValidateSet('wizard', 'auto')]
    [string] $Mode = 'wizard',

    [string] $WorkDir = (Join-Path $env:TEMP 'UnbrickPE'),

    [Parameter(Mandatory = $true, ParameterSetName = 'Usb')]
    [ValidatePattern('^[D-Zd-z]:?$')]
    [string] $UsbDrive,

    [Parameter(Mandatory = $true, ParameterSetName = 'Iso')]
    [ValidatePattern('\.iso$')]
    [string] $IsoPath,

    [switch] $WindowsUefiCa2023,

    [string] $AdkRoot,

    [switch] $PlaintextKeys,

    [switch] $Force
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

# The first ADK release whose MakeWinPEMedia has /bootex with the boot
# manager signed by the Windows UEFI CA 2023.
$MinAdkForBootex = [version]'10.1.26100.2454'

function Write-Step([string] $Text) {
    Write-Host "==> $Text" -ForegroundColor Cyan
}

# Invoke-Checked runs a native command and stops on a non-zero exit code
# ($ErrorActionPreference does not cover native commands in Windows
# PowerShell 5.1).
function Invoke-Checked([string] $What, [scriptblock] $Command) {
    & $Command
    if ($LASTEXITCODE -ne 0) {
        throw "$What failed with exit code $LASTEXITCODE (see the output above)."
    }
}

# --- Find the ADK and check its version ---------------------------------
Write-Step 'Finding the Windows ADK and the WinPE add-on (registry: Windows Kits\Installed Roots, Uninstall entries)'
if (-not $AdkRoot) {
    $roots = Get-ItemProperty -LiteralPath 'HKLM:\SOFTWARE\WOW6432Node\Microsoft\Windows Kits\Installed Roots' -ErrorAction SilentlyContinue
    if ($roots -and $roots.PSObject.Properties['KitsRoot10']) {
        $AdkRoot = Join-Path $roots.KitsRoot10 'Assessment and Deployment Kit'
    } else {
        $AdkRoot = 'C:\Program Files (x86)\Windows Kits\10\Assessment and Deployment Kit'
    }
}
$DandISetEnv = Join-Path $AdkRoot 'Deployment Tools\DandISetEnv.bat'
$PEDir = Join-Path $AdkRoot 'Windows Preinstallation Environment'
if (-not (Test-Path -LiteralPath $DandISetEnv)) {
    throw "No Deployment Tools at $AdkRoot (DandISetEnv.bat missing): install the Windows ADK with 'Deployment Tools', or pass -AdkRoot."
}
if (-not (Test-Path -LiteralPath (Join-Path $PEDir 'copype.cmd'))) {
    throw "No WinPE add-on under $PEDir (copype.cmd missing): install the 'Windows PE add-on for the Windows ADK' of the same version."
}

$adkEntry = Get-ItemProperty 'HKLM:\SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall\*', 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall\*' -ErrorAction SilentlyContinue |
    Where-Object { $_.PSObject.Properties['DisplayName'] -and $_.DisplayName -eq 'Windows Assessment and Deployment Kit' } |
    Select-Object -First 1
$adkVersion = $null
if ($adkEntry -and $adkEntry.PSObject.Properties['DisplayVersion']) {
    $adkVersion = [version]$adkEntry.DisplayVersion
}
Write-Host "ADK: $AdkRoot, version $(if ($adkVersion) { $adkVersion } else { 'unknown' })"

if ($WindowsUefiCa2023) {
    if (-not $adkVersion) {
        throw "-WindowsUefiCa2023 needs ADK $MinAdkForBootex or later, and the installed ADK's version could not be read: install ADK $MinAdkForBootex or later (with its WinPE add-on)."
    }
    if ($adkVersion -lt $MinAdkForBootex) {
        throw "-WindowsUefiCa2023 needs ADK $MinAdkForBootex or later (MakeWinPEMedia /bootex); this one is $adkVersion. Install the newer ADK and its WinPE add-on, or build without -WindowsUefiCa2023 for PCs that still trust the 2011 CA."
    }
}

# --- Check the inputs ----------------------------------------------------
if ($Keys -and -not $PlaintextKeys -and [IO.Path]::GetExtension($Keys) -ne '.age') {
    throw "$Keys is not a sealed key bundle (.age): seal it first (unbrick keys seal --out keys.age $Keys), or pass -PlaintextKeys."
}
if (Test-Path -LiteralPath $WorkDir) {
    if (Get-ChildItem -LiteralPath $WorkDir -Force | Select-Object -First 1) {
        throw "$WorkDir is not empty: remove it or give another -WorkDir (copype needs a new folder)."
    }
    Remove-Item -LiteralPath $WorkDir
}
if ($PSCmdlet.ParameterSetName -eq 'Usb') {
    $UsbDrive = $UsbDrive.TrimEnd(':').ToUpper() + ':'
    $vol = Get-Volume -DriveLetter $UsbDrive[0] -ErrorAction SilentlyContinue
    if (-not $vol) {
        throw "Volume $($UsbDrive) not found: plug the USB stick in and give its drive letter."
    }
    $part = Get-Partition -DriveLetter $UsbDrive[0]
    $disk = Get-Disk -Number $part.DiskNumber
    if ($disk.BusType -ne 'USB' -or $disk.IsBoot -or $disk.IsSystem) {
        throw "$UsbDrive is on disk $($disk.Number) ($($disk.FriendlyName), bus $($disk.BusType)): not a removable USB disk, refusing to format it."
    }
}

# --- 1. copype -------------------------------------------------------------
Write-Step "copype amd64 $WorkDir (WinPE add-on)"
Invoke-Checked 'copype' { cmd.exe /c "call `"$DandISetEnv`" && copype amd64 `"$WorkDir`"" }
$Mount = Join-Path $WorkDir 'mount'
$BootWim = Join-Path $WorkDir 'media\sources\boot.wim'

# --- 2. mount boot.wim -------------------------------------------------------
Write-Step "Dism /Mount-Image /ImageFile:$BootWim /Index:1 /MountDir:$Mount"
Invoke-Checked 'Dism /Mount-Image' { Dism.exe /Mount-Image "/ImageFile:$BootWim" /Index:1 "/MountDir:$Mount" }
$committed = $false
try {
    # --- 3. unbrick, keys, settings ----------------------------------------
    Write-Step 'Copying unbrick.exe, the keys and unbrick.conf into X:\unbrick and the media''s \unbrick'
    $peDir = Join-Path $Mount 'unbrick'
    $mediaDir = Join-Path $WorkDir 'media\unbrick'
    New-Item -ItemType Directory -Path $peDir, $mediaDir, (Join-Path $mediaDir 'logs'), (Join-Path $mediaDir 'journal') | Out-Null
    Copy-Item -LiteralPath $UnbrickExe -Destination (Join-Path $peDir 'unbrick.exe')
    $keysName = ''
    if ($Keys) {
        $keysName = Split-Path -Leaf $Keys
        Copy-Item -LiteralPath $Keys -Destination $peDir
    }
    if ($Config) {
        Copy-Item -LiteralPath $Config -Destination (Join-Path $peDir 'unbrick.conf')
        Copy-Item -LiteralPath $Config -Destination (Join-Path $mediaDir 'unbrick.conf')
    } else {
        Set-Content -LiteralPath (Join-Path $mediaDir 'unbrick.conf') -Value "mode = $Mode" -Encoding Ascii
    }

    # start.cmd finds the stick (the drive holding \unbrick\unbrick.conf)
    # for logs and undo journals; without one (an ISO) they stay in X:.
    $keysArg = ''
    if ($keysName) { $keysArg = "--keys X:\unbrick\$keysName" }
    if ($Mode -eq 'auto') {
        $run = "X:\unbrick\unbrick.exe fix $keysArg --log %OUT%\logs --journal %OUT%\journal`r`nwpeutil shutdown"
    } else {
        $run = "X:\unbrick\unbrick.exe wizard $keysArg --log %OUT%\logs --journal %OUT%\journal`r`ncmd.exe /k echo unbrick finished; type wpeutil shutdown to power off"
    }
    $start = @"
@echo off
rem Written by New-UnbrickPE.ps1: started by winpeshl.ini after wpeinit.
set OUT=X:\unbrick
for %%d in (C D E F G H I J K L M N O P Q R S T U V W Y Z) do if exist %%d:\unbrick\unbrick.conf set OUT=%%d:\unbrick
if "%OUT%"=="X:\unbrick" echo No writable unbrick stick found: logs stay in memory (X:) and are lost at shutdown.
if not exist %OUT%\logs mkdir %OUT%\logs
if not exist %OUT%\journal mkdir %OUT%\journal
$run
"@
    Set-Content -LiteralPath (Join-Path $peDir 'start.cmd') -Value $start -Encoding Ascii

    # --- 4. storage drivers ---------------------------------------------------
    foreach ($d in $Drivers) {
        Write-Step "Dism /Add-Driver /Image:$Mount /Driver:$d /Recurse"
        Invoke-Checked 'Dism /Add-Driver' { Dism.exe "/Image:$Mount" /Add-Driver "/Driver:$d" /Recurse }
    }

    # --- 5. winpeshl.ini --------------------------------------------------------
    Write-Step 'Writing Windows\System32\winpeshl.ini (wpeinit, then X:\unbrick\start.cmd)'
    $ini = @"
[LaunchApps]
%SYSTEMROOT%\System32\wpeinit.exe
%SYSTEMROOT%\System32\cmd.exe, /c X:\unbrick\start.cmd
"@
    Set-Content -LiteralPath (Join-Path $Mount 'Windows\System32\winpeshl.ini') -Value $ini -Encoding Ascii

    # --- 6. commit --------------------------------------------------------------
    Write-Step "Dism /Unmount-Image /MountDir:$Mount /Commit"
    Invoke-Checked 'Dism /Unmount-Image /Commit' { Dism.exe /Unmount-Image "/MountDir:$Mount" /Commit }
    $committed = $true
} finally {
    if (-not $committed) {
        Write-Host "A step failed: Dism /Unmount-Image /MountDir:$Mount /Discard" -ForegroundColor Yellow
        Dism.exe /Unmount-Image "/MountDir:$Mount" /Discard | Out-Host
    }
}

# --- 7. MakeWinPEMedia --------------------------------------------------------
$bootex = ''
if ($WindowsUefiCa2023) {
    $bootex = '/bootex'
    Write-Host 'Boot manager: signed by the Windows UEFI CA 2023 (MakeWinPEMedia /bootex).'
} else {
    Write-Host 'Boot manager: signed by the Microsoft Windows Production PCA 2011 (the ADK default).'
}
if ($PSCmdlet.ParameterSetName -eq 'Usb') {
    if (-not $Force) {
        $answer = Read-Host "MakeWinPEMedia will FORMAT $UsbDrive ($($disk.FriendlyName)); everything on it is lost. Type YES to go on"
        if ($answer -cne 'YES') {
            throw "Not confirmed: nothing written to $UsbDrive. The WinPE files are in $WorkDir."
        }
    }
    Write-Step "MakeWinPEMedia /UFD /F $bootex $WorkDir $UsbDrive"
    Invoke-Checked 'MakeWinPEMedia /UFD' { cmd.exe /c "call `"$DandISetEnv`" && MakeWinPEMedia /UFD /F $bootex `"$WorkDir`" $UsbDrive" }
    Write-Host "Done: $UsbDrive boots unbrick ($Mode mode); logs and undo journals go to $UsbDrive\unbrick." -ForegroundColor Green
} else {
    $isoFull = [IO.Path]::GetFullPath($IsoPath)
    Write-Step "MakeWinPEMedia /ISO $bootex $WorkDir $isoFull"
    Invoke-Checked 'MakeWinPEMedia /ISO' { cmd.exe /c "call `"$DandISetEnv`" && MakeWinPEMedia /ISO $bootex `"$WorkDir`" `"$isoFull`"" }
    Write-Host "Done: $isoFull boots unbrick ($Mode mode). It is read-only: send the logs away (log_url, syslog in unbrick.conf)." -ForegroundColor Green
}
