; Inno Setup script: the per-user Windows installer of HSM Console (no administrator needed).
; Built by .github/workflows/windows-build.yml after PyInstaller, from the repository's root:
;   iscc /DAppVersion=0.1.0 installer\hsm-console.iss
; It packs dist\hsm-console (the one-folder build) and uses the icon build_installer.spec drew.
#ifndef AppVersion
  #error Give the version: iscc /DAppVersion=X.Y.Z installer\hsm-console.iss
#endif

[Setup]
; The AppId names this program to Windows across versions: never change it.
AppId={{B1263CE2-9951-4681-878C-FEAF11C2B70E}
AppName=HSM Console
AppVersion={#AppVersion}
AppVerName=HSM Console {#AppVersion}
AppPublisher=City of Highland
VersionInfoProductVersion={#AppVersion}
; Per user: installs into the person's own profile, so no elevation prompt on City workstations.
PrivilegesRequired=lowest
DefaultDirName={localappdata}\Programs\HSM Console
DefaultGroupName=HSM Console
DisableProgramGroupPage=yes
UninstallDisplayName=HSM Console
UninstallDisplayIcon={app}\hsm-console.exe
SetupIconFile=..\build\build_installer\hsm-console.ico
SourceDir=.
OutputDir=..\dist
OutputBaseFilename=hsm-console-setup-{#AppVersion}
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
Compression=lzma2
SolidCompression=yes
WizardStyle=modern
; A running console keeps its files open: ask to close it rather than half-replace them.
CloseApplications=yes

[Files]
Source: "..\dist\hsm-console\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
; {autoprograms} is the person's own Start menu under PrivilegesRequired=lowest.
Name: "{autoprograms}\HSM Console"; Filename: "{app}\hsm-console.exe"
Name: "{autoprograms}\HSM Console (demo)"; Filename: "{app}\hsm-console.exe"; Parameters: "--demo"
; The command line (hsm-console-cli.exe, a console program: the window's .exe prints nothing
; in cmd): a Command Prompt in the program's folder, showing the commands.
Name: "{autoprograms}\HSM Console command line"; Filename: "{cmd}"; Parameters: "/k hsm-console-cli.exe --help"; WorkingDir: "{app}"

[Run]
Filename: "{app}\hsm-console.exe"; Description: "Start HSM Console"; Flags: nowait postinstall skipifsilent

; The uninstaller removes the program only. The database, settings and seals in the user's
; AppData are City records under the retention schedule: never deleted by an uninstall.
