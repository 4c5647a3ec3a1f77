<?php
/**
 * Plugin Name:       Tapline
 * Plugin URI:        https://github.com/tapline/tapline
 * Description:       First-party Tapfiliate tracking through your Tapline worker: the tag on every page, and each paid WooCommerce order, refund and renewal sent from your server, exactly once.
 * Version:           0.1.0
 * Requires at least: 6.1
 * Requires PHP:      8.1
 * Author:            Tapline
 * License:           MIT
 * Text Domain:       tapline
 *
 * WC requires at least: 7.1
 * WC tested up to:      8.3
 *
 * @package Tapline
 */

namespace Tapline;

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

const VERSION = '0.1.0';
const PLUGIN_FILE = __FILE__;

/*
 * One class per file under src/, named after its namespace path:
 * Tapline\Orders\Paid lives in src/Orders/Paid.php. No Composer: a plugin zip carries its own loader.
 */
spl_autoload_register(
	static function ( string $class ): void {
		if ( str_starts_with( $class, __NAMESPACE__ . '\\' ) ) {
			$file = __DIR__ . '/src/' . str_replace( '\\', '/', substr( $class, strlen( __NAMESPACE__ ) + 1 ) ) . '.php';
			if ( is_readable( $file ) ) {
				require $file;
			}
		}
	}
);

Plugin::boot();
