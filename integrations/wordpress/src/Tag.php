<?php
/**
 * The tag on every front-end page (wp_head), and, for a shop that signs
 * instead of sending server events, the signed conversion on the order-received page.
 *
 * @package Tapline
 */

namespace Tapline;

final class Tag {

	/** Order statuses whose order-received page is no sale. */
	private const NO_SALE = array( 'failed', 'cancelled', 'refunded' );

	private const STUB = 'window.tap=window.tap||function(){(tap.q=tap.q||[]).push(arguments)}';

	public function __construct( private Settings $settings ) {}

	public function register(): void {
		add_action( 'wp_head', array( $this, 'print_tag' ), 1 );
		add_action( 'woocommerce_thankyou', array( $this, 'print_signed_conversion' ) );
	}

	/** The stub and the script, with the settings' attributes (docs/reference.md, "The tag"). */
	public function print_tag(): void {
		$attributes = array( 'src' => $this->settings->public_url() . 'tap.js' );
		if ( 'first' === $this->settings->get( 'attribution' ) ) {
			$attributes['data-attribution'] = 'first';
		}
		$days = (int) $this->settings->get( 'cookie_days' );
		if ( 90 !== $days && $days >= 1 && $days <= 365 ) {
			$attributes['data-cookie-days'] = (string) $days;
		}
		if ( $this->settings->get( 'consent' ) ) {
			$attributes['data-consent'] = 'required';
		}
		echo '<script>' . self::STUB . "</script>\n<script async";
		foreach ( $attributes as $name => $value ) {
			echo ' ' . esc_attr( $name ) . '="' . ( 'src' === $name ? esc_url( $value ) : esc_attr( $value ) ) . '"';
		}
		echo "></script>\n";
	}

	/**
	 * The browser path, for a shop with a signing secret and no server token:
	 * the order, signed, on the order-received page. With a server token the
	 * order goes from the server (Orders\Paid) and this prints nothing.
	 *
	 * WooCommerce shows this page for a declined payment too: a failed,
	 * cancelled or refunded order is no sale. A pending one (the shopper back
	 * from PayPal before its notice) and an on-hold one (bank transfer, cheque)
	 * are counted, as the guide says: the browser cannot wait for the money.
	 */
	public function print_signed_conversion( $order_id ): void {
		$secret = (string) $this->settings->get( 'signing_secret' );
		$order  = function_exists( 'wc_get_order' ) ? wc_get_order( $order_id ) : null;
		if ( '' === $secret || '' !== (string) $this->settings->get( 'server_token' ) || ! $order || $order->has_status( self::NO_SALE ) ) {
			return;
		}
		// An order created in the admin and paid through its "pay for order" link counts only as the setting says.
		if ( ! $this->settings->counts( $order ) ) {
			return;
		}
		$fields = Orders\ConversionBody::order_fields( $order );
		// A browser keeps an unsent event for 7 days; the signature must outlive it.
		$fields['exp'] = time() + 7 * DAY_IN_SECONDS;
		$signed        = wp_json_encode( $fields );
		$call          = array(
			'signed'    => $signed,
			'signature' => hash_hmac( 'sha256', $signed, $secret ),
		);
		// wp_json_encode escapes "/" and, with these flags, < > & ' ": the JSON cannot close the script element.
		echo "<script>tap('convert', " . wp_json_encode( $call, JSON_HEX_TAG | JSON_HEX_AMP | JSON_HEX_APOS | JSON_HEX_QUOT ) . ")</script>\n";
	}
}
