<?php
/**
 * The plugin's settings: one option, `tapline_settings`, each value overridable
 * by a constant in wp-config.php (the WordPress way for secrets: not in the
 * database, not in a backup, not editable from the admin).
 *
 * @package Tapline
 */

namespace Tapline;

final class Settings {

	public const OPTION = 'tapline_settings';

	/** Setting name => the wp-config.php constant that overrides it. */
	public const CONSTANTS = array(
		'worker_url'       => 'TAPLINE_WORKER_URL',
		'signing_secret'   => 'TAPLINE_SIGNING_SECRET',
		'server_token'     => 'TAPLINE_SERVER_TOKEN',
		'forwarder_secret' => 'TAPLINE_FORWARDER_SECRET',
		'proxy'            => 'TAPLINE_PROXY',
		'admin_orders'     => 'TAPLINE_ADMIN_ORDERS',
	);

	/** Settings that are secrets: never printed back in full. */
	public const SECRETS = array( 'signing_secret', 'server_token', 'forwarder_secret' );

	public const DEFAULTS = array(
		'worker_url'       => '',
		'signing_secret'   => '',
		'server_token'     => '',
		'forwarder_secret' => '',
		'proxy'            => false,
		'admin_orders'     => false,
		'attribution'      => 'last',
		'consent'          => false,
		'cookie_days'      => 90,
	);

	/** The value in force: the constant when defined, else the stored option, else the default. */
	public function get( string $name ): mixed {
		if ( $this->from_constant( $name ) ) {
			return constant( self::CONSTANTS[ $name ] );
		}
		$stored = get_option( self::OPTION, array() );
		return is_array( $stored ) && array_key_exists( $name, $stored ) ? $stored[ $name ] : ( self::DEFAULTS[ $name ] ?? null );
	}

	public function from_constant( string $name ): bool {
		return isset( self::CONSTANTS[ $name ] ) && defined( self::CONSTANTS[ $name ] );
	}

	/**
	 * The worker's address, always ending in a slash: the setting, or this
	 * site's /_tap/ (the worker on a route of this site's own Cloudflare zone).
	 */
	public function worker_url(): string {
		$url = trim( (string) $this->get( 'worker_url' ) );
		return trailingslashit( '' !== $url ? $url : home_url( '/_tap/' ) );
	}

	/** Proxy mode: this site answers /_tap/* itself and forwards to a worker elsewhere (docs/guides/wordpress-woocommerce.md). */
	public function proxy(): bool {
		$worker = trim( (string) $this->get( 'worker_url' ) );
		// A worker address on this site's own /_tap/ would forward each request to itself.
		return (bool) $this->get( 'proxy' ) && '' !== (string) $this->get( 'forwarder_secret' ) && '' !== $worker
			&& ! str_starts_with( trailingslashit( $worker ), home_url( '/_tap/' ) );
	}

	/** Where browsers load the snippet from and send to: this site in proxy mode, else the worker. */
	public function public_url(): string {
		return $this->proxy() ? home_url( '/_tap/' ) : $this->worker_url();
	}

	/** Whether an order counts at all: one created in the admin (a phone order, an invoice) only when the setting says so. */
	public function counts( $order ): bool {
		return 'admin' !== $order->get_created_via() || (bool) $this->get( 'admin_orders' );
	}

	/** A secret as the settings page may show it: its last four characters, or nothing. */
	public static function masked( string $secret ): string {
		return '' === $secret ? '' : '…' . substr( $secret, -4 );
	}
}
