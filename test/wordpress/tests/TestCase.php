<?php
/**
 * Helpers the suite shares: the plugin's settings, the HTTP servers around it
 * (the front before the worker, the Tapfiliate stand-in), and orders.
 *
 * @package TaplineTests
 */

namespace TaplineTests;

use Tapline\Orders\Outbox;
use WC_Standin;

abstract class TestCase extends \PHPUnit\Framework\TestCase {

	protected function setUp(): void {
		WC_Standin::$actions = array();
		$this->settings( array() );
		$this->http( 'POST', getenv( 'TAPLINE_TEST_FRONT' ) . '/__front/reset' );
		$this->http( 'POST', getenv( 'TAPLINE_TEST_STANDIN' ) . '/__control/faults', '{}' );
		$_COOKIE = array();
		// A test may play a shop behind a proxy that sets these (WC_Geolocation reads them).
		unset( $_SERVER['HTTP_X_REAL_IP'], $_SERVER['HTTP_X_FORWARDED_FOR'] );
	}

	/** The plugin's settings: the worker behind the front, the server token, and `$more`. */
	protected function settings( array $more ): void {
		update_option( 'tapline_settings', $more + array( 'worker_url' => getenv( 'TAPLINE_TEST_FRONT' ) . '/_tap/', 'server_token' => getenv( 'TAPLINE_TEST_TOKEN' ) ) );
	}

	/** @return array{status: int, body: string, headers: array} */
	protected function http( string $method, string $url, ?string $body = null, array $headers = array() ): array {
		$response = wp_remote_request( $url, array( 'method' => $method, 'body' => $body, 'headers' => $headers, 'timeout' => 20, 'redirection' => 0 ) );
		$this->assertNotWPError( $response );
		return array( 'status' => wp_remote_retrieve_response_code( $response ), 'body' => wp_remote_retrieve_body( $response ), 'headers' => wp_remote_retrieve_headers( $response )->getAll() );
	}

	protected function assertNotWPError( $value ): void {
		$this->assertFalse( is_wp_error( $value ), is_wp_error( $value ) ? $value->get_error_message() : '' );
	}

	/** The answers the front gives instead of the worker, one per request. */
	protected function worker_answers( array $answers ): void {
		$this->http( 'POST', getenv( 'TAPLINE_TEST_FRONT' ) . '/__front/next', wp_json_encode( $answers ) );
	}

	/** Requests the front saw (method, path, headers). */
	protected function front_seen(): array {
		return json_decode( $this->http( 'GET', getenv( 'TAPLINE_TEST_FRONT' ) . '/__front/seen' )['body'], true );
	}

	/** Conversion postbacks the Tapfiliate stand-in accepted for this external_id. */
	protected function postbacks( string $external_id ): array {
		$received = json_decode( $this->http( 'GET', getenv( 'TAPLINE_TEST_STANDIN' ) . '/__control/received' )['body'], true );
		return array_values( array_filter( $received, static fn ( $r ) => 'conversion' === $r['kind'] && $r['status'] >= 200 && $r['status'] < 300 && (string) ( $r['fields']['external_id'] ?? '' ) === $external_id ) );
	}

	/** The stand-in's conversion for this external_id, with its commissions. */
	protected function tapfiliate_conversion( string $external_id ): ?array {
		$all = json_decode( $this->http( 'GET', getenv( 'TAPLINE_TEST_STANDIN' ) . '/__control/conversions' )['body'], true );
		foreach ( $all as $conversion ) {
			if ( (string) $conversion['external_id'] === $external_id ) {
				return $conversion;
			}
		}
		return null;
	}

	protected function outbox(): Outbox {
		foreach ( $GLOBALS['wp_filter']['shutdown']->callbacks[20] ?? array() as $callback ) {
			if ( is_array( $callback['function'] ) && $callback['function'][0] instanceof Outbox ) {
				return $callback['function'][0];
			}
		}
		$this->fail( 'the plugin adds no Outbox on shutdown' );
	}

	/** The end of the request: what the plugin sends at shutdown. */
	protected function end_request(): void {
		$this->outbox()->flush();
	}

	/** A shopper who came through affiliate anna, as PHP gives the cookie (decoded, slashed by WordPress). */
	protected function shopper_from_anna(): void {
		$_COOKIE['tap_data'] = addslashes( '{"referral_code":"anna","ts":' . time() . '}' );
	}

	protected function notes( $order ): string {
		return implode( "\n", WC_Standin::notes( is_object( $order ) ? $order->get_id() : (int) $order ) );
	}
}
