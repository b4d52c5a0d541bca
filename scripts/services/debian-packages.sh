# Sourced: install the Debian packages the tests need, when running as root and missing.
# Offscreen Qt needs a few shared libraries and a font; the database tests need PostgreSQL;
# the WordPress tests a real WordPress (it pulls in Apache and mod_php) with MariaDB; the
# bundle's test PyInstaller, which reads libraries with binutils' objdump.
TEST_DEB_PACKAGES=(postgresql binutils libegl1 libgl1 libfontconfig1 libxkbcommon0 libxkbcommon-x11-0
    libglib2.0-0 libdbus-1-3 fonts-dejavu-core xvfb libxcb-icccm4 libxcb-keysyms1
    libxcb-cursor0 libxcb-image0 libxcb-randr0 libxcb-render-util0 libxcb-shape0 libxcb-xkb1
    wordpress mariadb-server php-cli)

install_test_packages() {
    local missing=()
    for pkg in "${TEST_DEB_PACKAGES[@]}" "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
            || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        echo "Missing Debian packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})" >&2
        return 1
    fi
    echo "Installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}
