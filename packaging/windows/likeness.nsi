; Windows installer for Likeness (NSIS 3). Built by the "windows" job of
; .github/workflows/installers.yml:
;
;   bash packaging/fetch-onnxruntime.sh runtime windows-x86_64
;   cargo build --release
;   makensis /DVERSION=0.1.0 packaging\windows\likeness.nsi
;
; Installs, per machine, into "Program Files\Likeness": likeness.exe, the ONNX Runtime DLLs
; beside it (where the binary looks first), libheif's DLLs (HEIC/HEIF/AVIF, from vcpkg), the default models in models\, licences; a Start
; menu shortcut; an uninstaller registered in "Apps & features". The user's data
; (%APPDATA%\likeness) is never touched by the uninstaller.
;
; NOT VERIFIED: this project is built and tested on Linux only; nobody has run this script.

Unicode true
!include "MUI2.nsh"

!ifndef VERSION
  !define VERSION "0.1.0"
!endif
!define ROOT "..\.."

Name "Likeness ${VERSION}"
OutFile "${ROOT}\target\likeness-${VERSION}-windows-x86_64-setup.exe"
InstallDir "$PROGRAMFILES64\Likeness"
InstallDirRegKey HKLM "Software\Likeness" "InstallDir"
RequestExecutionLevel admin
SetCompressor /SOLID lzma

!define MUI_ICON "likeness.ico"
!insertmacro MUI_PAGE_LICENSE "${ROOT}\packaging\debian\copyright"
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!define MUI_FINISHPAGE_RUN "$INSTDIR\likeness.exe"
!insertmacro MUI_PAGE_FINISH
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES
!insertmacro MUI_LANGUAGE "English"

Section "Likeness"
  SetOutPath "$INSTDIR"
  File "${ROOT}\target\release\likeness.exe"
  File "${ROOT}\runtime\onnxruntime.dll"
  File "${ROOT}\runtime\onnxruntime_providers_shared.dll"
  File "${ROOT}\runtime\ONNXRUNTIME-LICENSE"
  File "${ROOT}\runtime\ONNXRUNTIME-ThirdPartyNotices.txt"
  ; libheif and its decoders (libde265, dav1d) from vcpkg, beside the binary where Windows'
  ; loader looks first (the workflow copies them to runtime\heif). UNVERIFIED.
  File "${ROOT}\runtime\heif\*.dll"
  File "likeness.ico"
  SetOutPath "$INSTDIR\models"
  File "${ROOT}\models\efficientnet-lite0-int8.onnx"
  File "${ROOT}\models\efficientnet-lite0-int8.json"
  File "${ROOT}\models\efficientnet-lite0.onnx"
  File "${ROOT}\models\efficientnet-lite0.json"

  CreateShortCut "$SMPROGRAMS\Likeness.lnk" "$INSTDIR\likeness.exe" "" "$INSTDIR\likeness.ico"
  WriteUninstaller "$INSTDIR\uninstall.exe"
  WriteRegStr HKLM "Software\Likeness" "InstallDir" "$INSTDIR"
  !define UNINST "Software\Microsoft\Windows\CurrentVersion\Uninstall\Likeness"
  WriteRegStr HKLM "${UNINST}" "DisplayName" "Likeness"
  WriteRegStr HKLM "${UNINST}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKLM "${UNINST}" "Publisher" "Likeness developers"
  WriteRegStr HKLM "${UNINST}" "DisplayIcon" "$INSTDIR\likeness.ico"
  WriteRegStr HKLM "${UNINST}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegDWORD HKLM "${UNINST}" "NoModify" 1
  WriteRegDWORD HKLM "${UNINST}" "NoRepair" 1
SectionEnd

Section "Uninstall"
  Delete "$SMPROGRAMS\Likeness.lnk"
  RMDir /r "$INSTDIR\models"
  Delete "$INSTDIR\likeness.exe"
  Delete "$INSTDIR\onnxruntime.dll"
  Delete "$INSTDIR\onnxruntime_providers_shared.dll"
  Delete "$INSTDIR\ONNXRUNTIME-LICENSE"
  Delete "$INSTDIR\ONNXRUNTIME-ThirdPartyNotices.txt"
  Delete "$INSTDIR\heif.dll"
  Delete "$INSTDIR\libde265.dll"
  Delete "$INSTDIR\dav1d.dll"
  Delete "$INSTDIR\likeness.ico"
  Delete "$INSTDIR\uninstall.exe"
  RMDir "$INSTDIR"
  DeleteRegKey HKLM "Software\Microsoft\Windows\CurrentVersion\Uninstall\Likeness"
  DeleteRegKey HKLM "Software\Likeness"
SectionEnd
