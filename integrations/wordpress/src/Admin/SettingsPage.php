<?php
/**
 * Settings → Tapline, through the Settings API (options.php checks the
 * nonce and the manage_options capability on save).
 *
 * @package Tapline
 */

namespace Tapline\Admin;

use Tapline\Settings;

final class SettingsPage {

	public const SLUG = 'tapline';

	public function __construct( private Settings $settings ) {}

	public function register(): void {
		add_action( 'admin_menu', array( $this, 'menu' ) );
		add_action( 'admin_init', array( $this, 'fields' ) );
	}

	public function menu(): void {
		add_options_page( 'Tapline', 'Tapline', 'manage_options', self::SLUG, array( $this, 'render' ) );
	}

	public function fields(): void {
		register_setting(
			self::SLUG,
			Settings::OPTION,
			array(
				'type'              => 'array',
				'sanitize_callback' => array( $this, 'sanitize' ),
				'default'           => array(),
			)
		);
		add_settings_section( 'tapline_worker', __( 'Worker', 'tapline' ), '__return_null', self::SLUG );
		$fields = array(
			'worker_url'       => __( 'Worker address', 'tapline' ),
			'signing_secret'   => __( 'Signing secret', 'tapline' ),
			'server_token'     => __( 'Server token', 'tapline' ),
			'proxy'            => __( 'Proxy mode', 'tapline' ),
			'forwarder_secret' => __( 'Forwarder secret', 'tapline' ),
			'admin_orders'     => __( 'Admin-created orders', 'tapline' ),
			'attribution'      => __( 'Attribution', 'tapline' ),
			'cookie_days'      => __( 'Cookie lifetime (days)', 'tapline' ),
			'consent'          => __( 'Consent', 'tapline' ),
		);
		foreach ( $fields as $name => $label ) {
			add_settings_field( 'tapline_' . $name, $label, array( $this, 'field' ), self::SLUG, 'tapline_worker', array( 'name' => $name, 'label_for' => 'tapline_' . $name ) );
		}
	}

	/**
	 * A secret left blank keeps its stored value (the page never holds it);
	 * "Remove" clears it. Every other value is reduced to what it may be.
	 */
	public function sanitize( $input ): array {
		$input  = is_array( $input ) ? $input : array();
		$stored = get_option( Settings::OPTION, array() );
		$stored = is_array( $stored ) ? $stored : array();
		$clean  = array(
			'worker_url'   => esc_url_raw( trim( (string) ( $input['worker_url'] ?? '' ) ), array( 'https', 'http' ) ),
			'proxy'        => ! empty( $input['proxy'] ),
			'admin_orders' => ! empty( $input['admin_orders'] ),
			'attribution'  => 'first' === ( $input['attribution'] ?? '' ) ? 'first' : 'last',
			'cookie_days'  => min( 365, max( 1, absint( $input['cookie_days'] ?? 90 ) ) ),
			'consent'      => ! empty( $input['consent'] ),
		);
		foreach ( Settings::SECRETS as $name ) {
			$typed = trim( (string) ( $input[ $name ] ?? '' ) );
			if ( ! empty( $input[ $name . '_remove' ] ) ) {
				$clean[ $name ] = '';
			} elseif ( '' !== $typed ) {
				// Secrets are printable ASCII without spaces (e.g. openssl rand -hex 32).
				$clean[ $name ] = preg_replace( '/[^\x21-\x7e]/', '', $typed );
			} else {
				$clean[ $name ] = (string) ( $stored[ $name ] ?? '' );
			}
		}
		return $clean;
	}

	public function field( array $args ): void {
		$name  = $args['name'];
		$id    = 'tapline_' . $name;
		$field = Settings::OPTION . '[' . $name . ']';
		$value = $this->settings->get( $name );
		if ( $this->settings->from_constant( $name ) ) {
			/* translators: %s: a constant's name */
			printf( '<p>%s</p>', esc_html( sprintf( __( 'Set in wp-config.php (%s).', 'tapline' ), Settings::CONSTANTS[ $name ] ) ) );
			if ( in_array( $name, Settings::SECRETS, true ) ) {
				printf( '<p><code>%s</code></p>', esc_html( Settings::masked( (string) $value ) ) );
			}
			return;
		}
		switch ( $name ) {
			case 'worker_url':
				printf( '<input type="url" class="regular-text code" id="%s" name="%s" value="%s" placeholder="%s">', esc_attr( $id ), esc_attr( $field ), esc_attr( (string) $value ), esc_attr( home_url( '/_tap/' ) ) );
				echo '<p class="description">' . esc_html__( 'Blank: this site\'s /_tap/ (the worker on a route of your Cloudflare zone). In proxy mode: the worker\'s own address, e.g. https://tapline.example.workers.dev/_tap/', 'tapline' ) . '</p>';
				break;
			case 'signing_secret':
			case 'server_token':
			case 'forwarder_secret':
				$masked = Settings::masked( (string) $value );
				printf( '<input type="password" class="regular-text code" id="%s" name="%s" value="" autocomplete="new-password" placeholder="%s">', esc_attr( $id ), esc_attr( $field ), esc_attr( '' === $masked ? __( 'not set', 'tapline' ) : sprintf( /* translators: %s: last characters */ __( 'saved (%s); leave blank to keep', 'tapline' ), $masked ) ) );
				if ( '' !== $masked ) {
					printf( ' <label><input type="checkbox" name="%s" value="1"> %s</label>', esc_attr( Settings::OPTION . '[' . $name . '_remove]' ), esc_html__( 'Remove', 'tapline' ) );
				}
				$help = array(
					'signing_secret'   => __( 'The worker\'s TAPLINE_SIGNING_SECRET. Used to sign the order-received page when no server token is set.', 'tapline' ),
					'server_token'     => __( 'The worker\'s TAPLINE_SERVER_TOKEN. With it, paid orders, refunds and renewals are sent from this server.', 'tapline' ),
					'forwarder_secret' => __( 'The worker\'s TAPLINE_FORWARDER_SECRET, for proxy mode.', 'tapline' ),
				);
				echo '<p class="description">' . esc_html( $help[ $name ] ) . '</p>';
				break;
			case 'attribution':
				printf( '<select id="%s" name="%s">', esc_attr( $id ), esc_attr( $field ) );
				foreach ( array( 'last' => __( 'Last click: a new affiliate link replaces the stored one', 'tapline' ), 'first' => __( 'First click: the stored one is kept until it expires', 'tapline' ) ) as $option => $label ) {
					printf( '<option value="%s"%s>%s</option>', esc_attr( $option ), selected( $value, $option, false ), esc_html( $label ) );
				}
				echo '</select>';
				break;
			case 'cookie_days':
				printf( '<input type="number" min="1" max="365" id="%s" name="%s" value="%s">', esc_attr( $id ), esc_attr( $field ), esc_attr( (string) (int) $value ) );
				break;
			default:
				$labels = array(
					'proxy'        => __( 'This site answers /_tap/ and forwards to the worker address (for a shop whose DNS is not on Cloudflare).', 'tapline' ),
					'admin_orders' => __( 'Send orders created in the admin too (phone orders, invoices).', 'tapline' ),
					'consent'      => __( 'Wait for consent: nothing is stored or sent until your consent banner calls tap(\'consent\', true).', 'tapline' ),
				);
				printf( '<label><input type="checkbox" id="%s" name="%s" value="1"%s> %s</label>', esc_attr( $id ), esc_attr( $field ), checked( (bool) $value, true, false ), esc_html( $labels[ $name ] ) );
		}
	}

	public function render(): void {
		if ( ! current_user_can( 'manage_options' ) ) {
			return;
		}
		echo '<div class="wrap"><h1>Tapline</h1>';
		echo '<form method="post" action="' . esc_url( admin_url( 'options.php' ) ) . '">';
		settings_fields( self::SLUG );
		do_settings_sections( self::SLUG );
		submit_button();
		echo '</form>';
		HealthCheck::render( $this->settings );
		echo '</div>';
	}
}
