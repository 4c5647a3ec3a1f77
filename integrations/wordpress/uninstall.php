<?php
/**
 * Runs when the plugin is deleted from Plugins: removes its settings and its
 * cached snippet. The records on orders (what was sent, the notes) are the
 * merchant's history and stay.
 *
 * @package Tapline
 */

if ( ! defined( 'WP_UNINSTALL_PLUGIN' ) ) {
	exit;
}

delete_option( 'tapline_settings' );
global $wpdb;
// The cached snippet files (src/Proxy.php) are transients named tapline_js_*.
$wpdb->query( "DELETE FROM {$wpdb->options} WHERE option_name LIKE '\\_transient\\_tapline\\_%' OR option_name LIKE '\\_transient\\_timeout\\_tapline\\_%'" );
// Each queued retry names its order in its arguments: every one goes, whatever its arguments.
wp_unschedule_hook( 'tapline_retry' );
if ( function_exists( 'as_unschedule_all_actions' ) ) {
	as_unschedule_all_actions( 'tapline_retry' );
}
