<?php
/**
 * Installs WordPress once per test run into the fresh database named by
 * wp-config.php (test/wordpress/site.ts writes both), with the Tapline plugin
 * and the WooCommerce stand-in active, an administrator and a subscriber.
 *
 * Usage: php install.php <wordpress root> <site url>
 */

[ , $root, $site ] = $argv;
$parts                   = parse_url( $site );
$_SERVER['HTTP_HOST']    = $parts['host'] . ':' . $parts['port'];
$_SERVER['REQUEST_URI']  = '/';
define( 'WP_INSTALLING', true );
require $root . '/wp-load.php';
require ABSPATH . 'wp-admin/includes/upgrade.php';

$result = wp_install( 'Tapline test shop', 'admin', 'admin@example.test', true, '', 'admin-password-not-secret' );
update_option( 'siteurl', $site );
update_option( 'home', $site );
update_option( 'active_plugins', array( 'tapline/tapline.php', 'woocommerce/woocommerce.php' ) );
wp_insert_user( array( 'user_login' => 'shopper', 'user_pass' => 'shopper-password', 'user_email' => 'shopper@example.test', 'role' => 'subscriber' ) );
echo 'installed user ' . $result['user_id'] . "\n";
