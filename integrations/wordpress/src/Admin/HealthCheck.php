<?php
/**
 * The "Check" button: asks the worker's /health (through this site's own
 * /_tap/ in proxy mode, so the forwarding is checked too) and shows its answer.
 * An admin-post action, with its nonce and the manage_options capability checked.
 *
 * @package Tapline
 */

namespace Tapline\Admin;

use Tapline\Client;
use Tapline\Settings;

final class HealthCheck {

	public const ACTION = 'tapline_check';

	public function __construct( private Settings $settings, private Client $client ) {}

	public function register(): void {
		add_action( 'admin_post_' . self::ACTION, array( $this, 'handle' ) );
	}

	public function handle(): void {
		if ( ! current_user_can( 'manage_options' ) ) {
			wp_die( esc_html__( 'Sorry, you are not allowed to manage Tapline.', 'tapline' ), 403 );
		}
		check_admin_referer( self::ACTION );
		$url    = $this->settings->public_url() . 'health';
		$answer = $this->client->get( $url );
		$shown  = 0 === $answer->status
			? $answer->summary()
			: $answer->status . ' ' . ( null === $answer->json ? __( '(not JSON: is this the worker\'s address?)', 'tapline' ) : wp_json_encode( $answer->json, JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES ) );
		$hint   = $this->proxy_hint( $answer->status, $answer->json );
		if ( '' !== $hint ) {
			$shown .= "\n\n" . $hint;
		}
		set_transient( self::ACTION . '_' . get_current_user_id(), array( 'url' => $url, 'answer' => $shown ), 5 * MINUTE_IN_SECONDS );
		wp_safe_redirect( admin_url( 'options-general.php?page=' . SettingsPage::SLUG . '#tapline-check' ) );
		exit;
	}

	/**
	 * In proxy mode, what the worker's answer means for this site's settings: /health asks for no
	 * token, so its 401 is the worker refusing the Forwarder secret; `forwarder: false` is a worker
	 * without TAPLINE_FORWARDER_SECRET, which would take every shopper for this server (docs/security.md).
	 */
	private function proxy_hint( int $status, ?array $json ): string {
		if ( ! $this->settings->proxy() ) {
			return '';
		}
		if ( 401 === $status ) {
			return __( 'The worker refused this site\'s Forwarder secret: set it to the worker\'s TAPLINE_FORWARDER_SECRET.', 'tapline' );
		}
		if ( 200 === $status && false === ( $json['forwarder'] ?? null ) ) {
			return __( 'The worker did not take this site as its forwarder: set TAPLINE_FORWARDER_SECRET on the worker, the same as the Forwarder secret here.', 'tapline' );
		}
		return '';
	}

	/** The button, and the last answer this user asked for (the worker's words: escaped, never trusted). */
	public static function render( Settings $settings ): void {
		echo '<h2 id="tapline-check">' . esc_html__( 'Check', 'tapline' ) . '</h2>';
		echo '<form method="post" action="' . esc_url( admin_url( 'admin-post.php' ) ) . '">';
		echo '<input type="hidden" name="action" value="' . esc_attr( self::ACTION ) . '">';
		wp_nonce_field( self::ACTION );
		/* translators: %s: a URL */
		echo '<p>' . esc_html( sprintf( __( 'Asks %s and shows its answer.', 'tapline' ), $settings->public_url() . 'health' ) ) . '</p>';
		submit_button( __( 'Check', 'tapline' ), 'secondary', 'submit', false );
		echo '</form>';
		$last = get_transient( self::ACTION . '_' . get_current_user_id() );
		if ( is_array( $last ) ) {
			echo '<p><code>' . esc_html( (string) $last['url'] ) . '</code></p><pre class="tapline-answer">' . esc_html( (string) $last['answer'] ) . '</pre>';
		}
	}
}
