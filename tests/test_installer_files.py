"""The Windows build's files agree with each other: spec, Inno Setup script, workflow."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_installer_packs_what_the_spec_builds() -> None:
    """Inno Setup reads PyInstaller's output by path: a renamed bundle must fail here, not
    on the Windows runner."""
    spec = (ROOT / "build_installer.spec").read_text(encoding="utf-8")
    iss = (ROOT / "installer" / "hsm-console.iss").read_text(encoding="utf-8")
    workflow = (ROOT / ".github" / "workflows" / "windows-build.yml").read_text(encoding="utf-8")
    assert 'name="hsm-console")' in spec  # COLLECT's folder: dist/hsm-console
    assert 'Source: "..\\dist\\hsm-console\\*"' in iss
    # PyInstaller's work folder is build/<spec name>, where write_assets puts the icon.
    assert "SetupIconFile=..\\build\\build_installer\\hsm-console.ico" in iss
    assert "PrivilegesRequired=lowest" in iss.splitlines()
    assert "DefaultDirName={localappdata}\\Programs\\HSM Console" in iss.splitlines()
    assert "pyinstaller --noconfirm build_installer.spec" in workflow
    assert '"--self-test"' in workflow
    assert "/DAppVersion=" in workflow


def test_a_console_executable_sits_beside_the_windowed_one() -> None:
    """The window's .exe is built without a console, so from cmd it prints nothing: the
    command line is a second executable in the same folder, installed and checked with it."""
    spec = (ROOT / "build_installer.spec").read_text(encoding="utf-8")
    iss = (ROOT / "installer" / "hsm-console.iss").read_text(encoding="utf-8")
    workflow = (ROOT / ".github" / "workflows" / "windows-build.yml").read_text(encoding="utf-8")
    build = (ROOT / "scripts" / "build").read_text(encoding="utf-8")
    assert 'name="hsm-console", console=False' in spec
    assert 'name="hsm-console-cli", console=True' in spec
    assert "coll = COLLECT(exe, cli, a.binaries" in spec  # one folder, both programs
    assert 'Source: "..\\dist\\hsm-console\\*"' in iss  # which holds both
    shortcut = next(line for line in iss.splitlines() if "command line" in line.split(";")[0])
    assert 'Filename: "{cmd}"' in shortcut
    assert "hsm-console-cli.exe" in shortcut
    assert 'WorkingDir: "{app}"' in shortcut
    assert '"dist\\hsm-console\\hsm-console-cli.exe" --version' in workflow
    assert '"$app-cli" --version' in build


def test_the_spec_collects_what_screening_reads_at_run_time() -> None:
    """tldextract's suffix list and phonenumbers' metadata are loaded by file and by module
    name, which PyInstaller's analysis cannot see: without them a built console would fetch
    the list from the network or fail to parse any number."""
    spec = (ROOT / "build_installer.spec").read_text(encoding="utf-8")
    assert '*collect_data_files("tldextract"),' in spec
    assert '*collect_submodules("phonenumbers.data"),' in spec
    import phonenumbers.data
    import tldextract

    assert (Path(tldextract.__file__).parent / ".tld_set_snapshot").stat().st_size > 10_000
    assert (Path(phonenumbers.data.__file__).parent / "region_US.py").is_file()
