; Inno Setup 6 script: per-machine VoxRad installer for Windows 10/11 x64.
;
; Built by build.ps1 (which runs PyInstaller first and passes the defines below):
;   ISCC.exe /DAppVersion=0.2.0 /DSourceDir=..\..\dist\voxrad [/DModelsDir=...] [/DVariant=offline] voxrad.iss
;
; IT deployment (SCCM, Intune, PDQ, GPO startup script):
;   VoxRad-0.2.0-win64-setup.exe /VERYSILENT /SUPPRESSMSGBOXES /NORESTART /LOG="C:\Windows\Temp\voxrad-install.log"
;   optional: /DIR="D:\Apps\VoxRad" /TASKS="desktopicon"
; Silent uninstall:
;   "C:\Program Files\VoxRad\unins000.exe" /VERYSILENT /SUPPRESSMSGBOXES /NORESTART
; Exit code 0 means installed; anything else is a failure (see the log).

#ifndef AppVersion
  #error Pass /DAppVersion=X.Y.Z (build.ps1 does)
#endif
#ifndef SourceDir
  #define SourceDir "..\..\dist\voxrad"
#endif
#ifdef Variant
  #define Suffix "-" + Variant
#else
  #define Suffix ""
#endif

[Setup]
; Never change AppId: upgrades and the uninstaller find earlier installs by it.
AppId={{6A3F1C52-9B7E-4D0A-8E41-2C5B7F0D9E13}
AppName=VoxRad
AppVersion={#AppVersion}
AppVerName=VoxRad {#AppVersion}
AppPublisher=VoxRad developers
AppComments=Speech-driven assistant for medical imaging. Decision support, not a diagnostic device.
VersionInfoVersion={#AppVersion}
DefaultDirName={autopf}\VoxRad
DefaultGroupName=VoxRad
DisableProgramGroupPage=yes
; Per-machine install into Program Files: needs administrator rights.
PrivilegesRequired=admin
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
MinVersion=10.0.17763
OutputDir=..\..\dist\installers
OutputBaseFilename=VoxRad-{#AppVersion}{#Suffix}-win64-setup
SetupIconFile=..\..\assets\icon\voxrad.ico
UninstallDisplayIcon={app}\voxrad.exe
UninstallDisplayName=VoxRad {#AppVersion}
LicenseFile=..\..\LICENSE
; lzma2 keeps the ~300 MB download; "fast" keeps the build minutes, not hours, for 1 GB.
Compression=lzma2/fast
SolidCompression=yes
WizardStyle=modern
CloseApplications=yes
RestartApplications=no
; The offline variant sets a machine-wide environment variable.
ChangesEnvironment=yes
SetupLogging=yes

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[InstallDelete]
; An upgrade replaces the bundled libraries as a whole: stale DLLs of an older Qt/VTK must not linger.
Type: filesandordirs; Name: "{app}\_internal"

[Files]
Source: "{#SourceDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs
#ifdef ModelsDir
; Offline-site variant: models with their checksums, each file verified as it is installed.
Source: "{#ModelsDir}\SHA256SUMS"; Flags: dontcopy
Source: "{#ModelsDir}\SHA256SUMS"; DestDir: "{app}\models"; Flags: ignoreversion
Source: "{#ModelsDir}\*"; Excludes: "SHA256SUMS"; DestDir: "{app}\models"; Flags: ignoreversion recursesubdirs createallsubdirs; AfterInstall: VerifyModelFile
#endif

[Icons]
; voxrad-gui.exe is the windowed launcher (no console); voxrad.exe is the command line.
Name: "{autoprograms}\VoxRad\VoxRad"; Filename: "{app}\voxrad-gui.exe"; WorkingDir: "{userdocs}"; Comment: "Medical image viewer with voice assistant"
Name: "{autoprograms}\VoxRad\VoxRad workstation check"; Filename: "{cmd}"; Parameters: "/k ""{app}\voxrad.exe"" doctor"; WorkingDir: "{userdocs}"
Name: "{autoprograms}\VoxRad\Uninstall VoxRad"; Filename: "{uninstallexe}"
Name: "{autodesktop}\VoxRad"; Filename: "{app}\voxrad-gui.exe"; WorkingDir: "{userdocs}"; Tasks: desktopicon

#ifdef ModelsDir
[Registry]
; Users' own choice (a user environment variable of the same name) still wins.
Root: HKLM; Subkey: "SYSTEM\CurrentControlSet\Control\Session Manager\Environment"; ValueType: expandsz; ValueName: "VOXRAD_MODELS__DIRECTORY"; ValueData: "{app}\models"; Flags: uninsdeletevalue
#endif

[Run]
Filename: "{cmd}"; Parameters: "/k ""{app}\voxrad.exe"" doctor"; Description: "Check this workstation now"; Flags: postinstall skipifsilent unchecked nowait
Filename: "{app}\voxrad-gui.exe"; Description: "Start VoxRad"; Flags: postinstall skipifsilent nowait

[UninstallDelete]
; Python caches written next to the app at run time. Users' settings, logs and models live in
; their profiles and are kept (they may hold a site configuration).
Type: filesandordirs; Name: "{app}\_internal\__pycache__"

#ifdef ModelsDir
[Code]
var
  Sums: TStringList;

function ExpectedHash(const Relative: String): String;
var
  I, Cut: Integer;
  Line, Name: String;
begin
  Result := '';
  if Sums = nil then
  begin
    ExtractTemporaryFile('SHA256SUMS');
    Sums := TStringList.Create;
    Sums.LoadFromFile(ExpandConstant('{tmp}\SHA256SUMS'));
  end;
  for I := 0 to Sums.Count - 1 do
  begin
    Line := Sums[I];
    { sha256sum format: "<64 hex>  ./folder/file" }
    Cut := Pos('  ', Line);
    if Cut = 65 then
    begin
      Name := Copy(Line, Cut + 2, Length(Line));
      if Copy(Name, 1, 2) = './' then
        Name := Copy(Name, 3, Length(Name));
      StringChangeEx(Name, '/', '\', True);
      if CompareText(Name, Relative) = 0 then
      begin
        Result := LowerCase(Copy(Line, 1, 64));
        Exit;
      end;
    end;
  end;
end;

procedure VerifyModelFile;
var
  Target, Relative, Expected, Actual, Prefix: String;
begin
  Target := ExpandConstant(CurrentFileName);
  Prefix := ExpandConstant('{app}\models\');
  Relative := Copy(Target, Length(Prefix) + 1, Length(Target));
  Expected := ExpectedHash(Relative);
  Actual := LowerCase(GetSHA256OfFile(Target));
  if Expected = '' then
    RaiseException('Model file ' + Relative + ' is not listed in SHA256SUMS: the installer is damaged. Copy it again from its source.');
  if Actual <> Expected then
  begin
    Log('sha256 mismatch for ' + Relative + ': expected ' + Expected + ', got ' + Actual);
    { An exception here aborts Setup and rolls the installation back. }
    RaiseException('Model file ' + Relative + ' is damaged (sha256 mismatch). Copy the installer again from its source and rerun it.');
  end;
  Log('verified ' + Relative);
end;
#endif
