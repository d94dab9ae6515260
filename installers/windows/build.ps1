<#
.SYNOPSIS
  Build the VoxRad Windows installer: PyInstaller one-folder app, then Inno Setup.

.DESCRIPTION
  Run on a Windows 10/11 x64 build machine from the repository root, in PowerShell 5.1+:

    py -3.11 -m venv .venv
    .venv\Scripts\python -m pip install -e ".[app,llama]" "pyinstaller>=6.10"
    powershell -ExecutionPolicy Bypass -File installers\windows\build.ps1
    powershell -ExecutionPolicy Bypass -File installers\windows\build.ps1 -Models D:\site-models

  Needs Inno Setup 6 (https://jrsoftware.org/isinfo.php; `winget install JRSoftware.InnoSetup`).
  llama-cpp-python has no Windows wheel on PyPI for every version: build it with Visual Studio
  Build Tools and CMake, CPU-portable:  $env:CMAKE_ARGS="-DGGML_NATIVE=OFF"; pip install llama-cpp-python
  CUDA variant: $env:CMAKE_ARGS="-DGGML_CUDA=on"; pip install --force-reinstall --no-cache-dir llama-cpp-python
  then build with -Variant cuda (the installer then needs the NVIDIA driver; CUDA runtime DLLs
  are collected from the build machine's CUDA toolkit by PyInstaller).

  Output: dist\installers\VoxRad-<version>[-<variant>]-win64-setup.exe and build-info.json.

.PARAMETER Models
  Offline-site variant: a VoxRad models folder to bundle. Its files' sha256 are written to
  SHA256SUMS and each file is verified when the installer copies it (a mismatch aborts and
  rolls back the install).
#>
param(
  [string]$Python = ".venv\Scripts\python.exe",
  [string]$Models = "",
  [string]$Variant = "",
  [string]$Iscc = ""
)
$ErrorActionPreference = "Stop"
Set-Location (Resolve-Path "$PSScriptRoot\..\..")
$Root = Get-Location

if (-not (Test-Path $Python)) { throw "No Python at ${Python}: create .venv first (see the help above)." }
& $Python -c "import PyInstaller" 2>$null
if ($LASTEXITCODE -ne 0) { throw "PyInstaller is missing: $Python -m pip install 'pyinstaller>=6.10'" }
$Version = (& $Python -c "import sys; sys.path.insert(0, 'app'); import voxrad; print(voxrad.__version__)").Trim()
if ($Models -and -not $Variant) { $Variant = "offline" }

if (-not $Iscc) {
  $candidates = @(
    "${env:ProgramFiles(x86)}\Inno Setup 6\ISCC.exe",
    "$env:ProgramFiles\Inno Setup 6\ISCC.exe",
    "$env:LOCALAPPDATA\Programs\Inno Setup 6\ISCC.exe"
  )
  $Iscc = $candidates | Where-Object { Test-Path $_ } | Select-Object -First 1
  if (-not $Iscc) { throw "Inno Setup 6 not found: install it (winget install JRSoftware.InnoSetup) or pass -Iscc" }
}

$watch = [Diagnostics.Stopwatch]::StartNew()
& $Python -m PyInstaller --noconfirm --clean --log-level WARN --distpath dist --workpath build\pyinstaller installers\pyinstaller\voxrad.spec
if ($LASTEXITCODE -ne 0) { throw "PyInstaller failed" }
$pyiSeconds = $watch.Elapsed.TotalSeconds
& dist\voxrad\voxrad.exe --version
if ($LASTEXITCODE -ne 0) { throw "the frozen app does not start" }

$defines = @("/DAppVersion=$Version", "/DSourceDir=$Root\dist\voxrad")
if ($Variant) { $defines += "/DVariant=$Variant" }
if ($Models) {
  # Stage the models with a SHA256SUMS in the same format as sha256sum (Linux builds).
  $stage = Join-Path $Root "build\windows-models"
  if (Test-Path $stage) { Remove-Item -Recurse -Force $stage }
  Copy-Item -Recurse (Resolve-Path $Models) $stage
  Remove-Item -ErrorAction SilentlyContinue (Join-Path $stage "SHA256SUMS")
  $lines = Get-ChildItem -Recurse -File $stage | Sort-Object FullName | ForEach-Object {
    $rel = $_.FullName.Substring($stage.Length + 1).Replace('\', '/')
    "{0}  ./{1}" -f (Get-FileHash -Algorithm SHA256 $_.FullName).Hash.ToLower(), $rel
  }
  if (-not $lines) { throw "-Models: no files in ${Models}" }
  [IO.File]::WriteAllLines((Join-Path $stage "SHA256SUMS"), [string[]]$lines)
  $defines += "/DModelsDir=$stage"
}

$watch.Restart()
& $Iscc /Qp @defines installers\windows\voxrad.iss
if ($LASTEXITCODE -ne 0) { throw "Inno Setup failed" }
$isccSeconds = $watch.Elapsed.TotalSeconds

$suffix = if ($Variant) { "-$Variant" } else { "" }
$setup = Get-Item "dist\installers\VoxRad-$Version$suffix-win64-setup.exe"
$appBytes = (Get-ChildItem -Recurse -File dist\voxrad | Measure-Object Length -Sum).Sum
[ordered]@{
  version = $Version; variant = $Variant; pyinstaller_s = [math]::Round($pyiSeconds, 1)
  inno_setup_s = [math]::Round($isccSeconds, 1); app_dir_bytes = $appBytes
  setup = $setup.Name; setup_bytes = $setup.Length
} | ConvertTo-Json | Set-Content dist\installers\build-info.json
Write-Host "built $($setup.FullName)"
