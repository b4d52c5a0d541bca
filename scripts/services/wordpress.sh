# Sourced: a throwaway WordPress for the tests, from the Debian packages `wordpress` and
# `mariadb-server`: MariaDB and a standalone Apache + mod_php, both on free loopback ports,
# with their data, logs and pid files in one folder. Nothing under /etc/apache2 or
# /etc/mysql is used; the only file outside the folder is the site's config file that
# Debian's wp-config.php requires in /etc/wordpress, which stop_wordpress removes.
#
# start_wordpress DIR  installs a blog, creates an Application Password for `admin` and exports
#                      HSM_TEST_WORDPRESS_URL (the blog root) and HSM_TEST_WORDPRESS_TOKEN
#                      ("admin:<application password>", as the console stores it).
# stop_wordpress DIR   stops both servers by their pid files and removes DIR and the config.
# Needs root: MariaDB runs as `mysql`, Apache as `www-data`, and the config lives in /etc.

_WP_ROOT=/usr/share/wordpress

_wp_free_ports() {  # two distinct free loopback ports, for the web and the database server
    python3 -c 'import socket
a, b = socket.socket(), socket.socket()
a.bind(("127.0.0.1", 0)); b.bind(("127.0.0.1", 0))
print(a.getsockname()[1], b.getsockname()[1])'
}

_wp_wait_port() {  # wait until something accepts connections on 127.0.0.1:PORT
    local port=$1 i
    for i in $(seq 1 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
        sleep 0.05
    done
    echo "Nothing answered on 127.0.0.1:$port" >&2
    return 1
}

_wp_alive() {  # PID NAME: is PID a running process whose command is NAME?
    [ -n "$1" ] && [ "$(cat "/proc/$1/comm" 2>/dev/null)" = "$2" ]
}

_wp_stop_pid() {  # PIDFILE NAME: SIGTERM the process, wait for it, SIGKILL if it lingers
    local pidfile=$1 name=$2 pid i
    [ -f "$pidfile" ] || return 0
    pid=$(cat "$pidfile" 2>/dev/null || true)
    _wp_alive "$pid" "$name" || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 100); do
        _wp_alive "$pid" "$name" || return 0
        sleep 0.05
    done
    echo "$name ($pid) did not stop in 5 s; killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
}

start_wordpress() {
    local dir=$1 name http_port db_port db_password admin_password app_password key started
    if [ "$(id -u)" -ne 0 ]; then
        echo "start_wordpress needs root (MariaDB runs as mysql, Apache as www-data)" >&2
        return 1
    fi
    [ -f "$_WP_ROOT/wp-settings.php" ] || { echo "WordPress is not installed" >&2; return 1; }
    started=$(date +%s.%N)
    name="hsmtest-$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    read -r http_port db_port < <(_wp_free_ports)
    db_password=$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')
    admin_password=$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')
    mkdir -p "$dir/mdb" "$dir/logs"
    echo "$name" >"$dir/name"
    chown mysql:mysql "$dir/mdb"

    # 1. MariaDB (no fsync, small logs: a test database, thrown away after the run)
    local db_opts=(--no-defaults --user=mysql --datadir="$dir/mdb/data" --skip-log-bin
        --innodb-flush-log-at-trx-commit=0 --innodb-log-file-size=8M
        --innodb-buffer-pool-size=32M)
    if ! mariadb-install-db "${db_opts[@]}" --auth-root-authentication-method=socket \
        --skip-test-db >"$dir/mdb/install.log" 2>&1; then
        echo "mariadb-install-db failed: see $dir/mdb/install.log" >&2
        return 1
    fi
    setsid mariadbd "${db_opts[@]}" --socket="$dir/mdb/mysqld.sock" --port="$db_port" \
        --bind-address=127.0.0.1 --skip-name-resolve --pid-file="$dir/mdb/mysqld.pid" \
        --log-error="$dir/mdb/error.log" </dev/null >/dev/null 2>&1 &
    echo $! >"$dir/mdb/launched.pid"  # in case start-up fails before mysqld.pid exists
    _wp_wait_port "$db_port" || { echo "MariaDB did not start: see $dir/mdb/error.log" >&2; return 1; }
    mariadb --socket="$dir/mdb/mysqld.sock" -e "CREATE DATABASE wordpress;
        CREATE USER 'wp'@'127.0.0.1' IDENTIFIED BY '$db_password';
        GRANT ALL ON wordpress.* TO 'wp'@'127.0.0.1';"

    # 2. The site's config, chosen by Debian's wp-config.php through WORDPRESS_CONFIG;
    #    readable by root and Apache's user only, from the start (it holds the DB password)
    install -m 640 -o root -g www-data /dev/null "/etc/wordpress/config-$name.php"
    {
        echo "<?php"
        echo "define('DB_NAME', 'wordpress'); define('DB_USER', 'wp');"
        echo "define('DB_PASSWORD', '$db_password'); define('DB_HOST', '127.0.0.1:$db_port');"
        echo "define('DB_CHARSET', 'utf8mb4'); define('DB_COLLATE', '');"
        for key in AUTH_KEY SECURE_AUTH_KEY LOGGED_IN_KEY NONCE_KEY AUTH_SALT SECURE_AUTH_SALT \
            LOGGED_IN_SALT NONCE_SALT; do
            echo "define('$key', '$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')');"
        done
        echo "\$table_prefix = 'wp_';"
        echo "define('WP_HOME', 'http://127.0.0.1:$http_port');"
        echo "define('WP_SITEURL', 'http://127.0.0.1:$http_port');"
        echo "// Application Passwords need https, or a 'local' environment as here"
        echo "define('WP_ENVIRONMENT_TYPE', 'local');"
        echo "define('DISABLE_WP_CRON', true); define('WP_HTTP_BLOCK_EXTERNAL', true);"
        echo "define('AUTOMATIC_UPDATER_DISABLED', true); define('WP_DEBUG', false);"
    } >>"/etc/wordpress/config-$name.php"

    # 3. Install and create the Application Password with php-cli (no HTTP login dance)
    if ! app_password=$(php -d display_errors=stderr -r '
        $_SERVER["WORDPRESS_CONFIG"] = $argv[1];
        $_SERVER["HTTP_HOST"] = "127.0.0.1";
        define("WP_INSTALLING", true);
        require "/usr/share/wordpress/wp-load.php";
        function wp_new_blog_notification() {}  // no mail server here
        require_once ABSPATH . "wp-admin/includes/upgrade.php";
        $installed = wp_install("City of Highland (test)", "admin", "admin@example.test",
            false, "", $argv[2]);
        // Pretty permalinks, as on the City site; the web installer would probe for them.
        $GLOBALS["wp_rewrite"]->set_permalink_structure("/%postname%/");
        flush_rewrite_rules(false);
        [$password] = WP_Application_Passwords::create_new_application_password(
            $installed["user_id"], ["name" => "HSM Console tests"]);
        echo $password;
    ' "$name" "$admin_password" 2>"$dir/logs/install.log") || [ -z "$app_password" ]; then
        echo "WordPress install failed: see $dir/logs/install.log" >&2
        return 1
    fi

    # 4. Apache + mod_php on loopback, configured here and nowhere else
    chown www-data "$dir/logs"
    cat >"$dir/httpd.conf" <<CONF
ServerRoot /usr/lib/apache2
PidFile $dir/httpd.pid
Listen 127.0.0.1:$http_port
ServerName 127.0.0.1
User www-data
Group www-data
LoadModule mpm_prefork_module modules/mod_mpm_prefork.so
LoadModule authz_core_module modules/mod_authz_core.so
LoadModule dir_module modules/mod_dir.so
LoadModule mime_module modules/mod_mime.so
LoadModule rewrite_module modules/mod_rewrite.so
LoadModule env_module modules/mod_env.so
LoadModule php_module modules/libphp8.2.so
StartServers 2
MaxRequestWorkers 8
TypesConfig /etc/mime.types
ErrorLog $dir/logs/error.log
CustomLog $dir/logs/access.log "%h \"%r\" %>s %b"
SetEnv WORDPRESS_CONFIG $name
DocumentRoot $_WP_ROOT
DirectoryIndex index.php
<FilesMatch "\.php\$">
    SetHandler application/x-httpd-php
</FilesMatch>
<Directory />
    Require all denied
</Directory>
<Directory $_WP_ROOT>
    Require all granted
    RewriteEngine On
    RewriteBase /
    RewriteRule ^index\.php\$ - [L]
    RewriteCond %{REQUEST_FILENAME} !-f
    RewriteCond %{REQUEST_FILENAME} !-d
    RewriteRule . /index.php [L]
</Directory>
CONF
    apache2 -f "$dir/httpd.conf" -k start
    _wp_wait_port "$http_port" || { echo "Apache did not start: see $dir/logs/error.log" >&2; return 1; }

    export HSM_TEST_WORDPRESS_URL="http://127.0.0.1:$http_port"
    export HSM_TEST_WORDPRESS_TOKEN="admin:$app_password"
    # Fail here, not in the tests, if the REST API does not take the password.
    if ! php -r '
        $context = stream_context_create(["http" => ["header" =>
            "Authorization: Basic " . base64_encode($argv[2])]]);
        $body = @file_get_contents($argv[1] . "/wp-json/wp/v2/users/me?context=edit", false, $context);
        exit(is_string($body) && str_contains($body, "\"administrator\"") ? 0 : 1);
    ' "$HSM_TEST_WORDPRESS_URL" "$HSM_TEST_WORDPRESS_TOKEN"; then
        echo "WordPress REST API check failed: see $dir/logs/error.log" >&2
        return 1
    fi
    echo "WordPress $(sed -n "s/^\$wp_version = '\(.*\)';/\1/p" "$_WP_ROOT/wp-includes/version.php")" \
        "on $HSM_TEST_WORDPRESS_URL (started in" \
        "$(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s)"
}

stop_wordpress() {
    local dir=$1 name
    [ -d "$dir" ] || return 0
    _wp_stop_pid "$dir/httpd.pid" apache2
    _wp_stop_pid "$dir/mdb/mysqld.pid" mariadbd
    _wp_stop_pid "$dir/mdb/launched.pid" mariadbd
    name=$(cat "$dir/name" 2>/dev/null || true)
    if [ -n "$name" ]; then rm -f "/etc/wordpress/config-$name.php"; fi
    rm -rf "$dir"
}
