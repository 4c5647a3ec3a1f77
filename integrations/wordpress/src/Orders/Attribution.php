<?php
/**
 * At checkout, in the shopper's own request (the only one that carries the
 * tap_data cookie): the attribution, IP and user agent kept on the order,
 * through WooCommerce's CRUD so it works with HPOS. Payment gateways confirm
 * payments in requests of their own (webhooks, IPN) without the cookie.
 *
 * @package Tapline
 */

namespace Tapline\Orders;

final class Attribution {

	public const META = '_tapline_attribution';

	/** The cookie is the snippet's (docs/reference.md, "The cookie"); anything longer is not. */
	private const MAX_COOKIE = 4096;

	public function register(): void {
		// Classic checkout: before WooCommerce saves the new order (WC_Checkout::create_order).
		add_action( 'woocommerce_checkout_create_order', array( $this, 'keep' ) );
		// Block checkout (Store API): before the checkout route saves the order.
		add_action( 'woocommerce_store_api_checkout_update_order_meta', array( $this, 'keep' ) );
	}

	/** @param \WC_Order $order */
	public function keep( $order ): void {
		if ( ! is_object( $order ) || ! method_exists( $order, 'update_meta_data' ) ) {
			return;
		}
		$cookie = isset( $_COOKIE['tap_data'] ) && is_string( $_COOKIE['tap_data'] ) ? wp_unslash( $_COOKIE['tap_data'] ) : ''; // phpcs:ignore WordPress.Security.ValidatedSanitizedInput -- sent to the worker as it is; the worker validates it.
		// WooCommerce's record of the shopper's IP (X-Real-IP, X-Forwarded-For or REMOTE_ADDR), or the connection's when it
		// has none yet. One that is not an address (a proxy's "unknown") is not replaced by REMOTE_ADDR, the proxy's own.
		$ip     = (string) ( $order->get_customer_ip_address() ?: ( $_SERVER['REMOTE_ADDR'] ?? '' ) ); // phpcs:ignore
		$record = array(
			'tap_data'   => strlen( $cookie ) <= self::MAX_COOKIE ? $cookie : '',
			'ip'         => self::address( $ip ),
			'user_agent' => substr( (string) ( $order->get_customer_user_agent() ?: ( $_SERVER['HTTP_USER_AGENT'] ?? '' ) ), 0, 512 ), // phpcs:ignore
		);
		$order->update_meta_data( self::META, $record );
		// Saved with the order by WooCommerce; an order that already exists gets its meta written now.
		if ( $order->get_id() ) {
			$order->save_meta_data();
		}
	}

	/**
	 * `$ip` trimmed if it is an address the worker takes, else '' (docs/guides/wordpress-woocommerce.md,
	 * "What it does with orders"). PHP's filter takes what the worker does: no IPv4 with leading zeros, no
	 * IPv6 zone id. WordPress's rest_is_ip_address takes `01.2.3.4` and `1:2:3:4:5:6:7:8::`, which the
	 * worker refuses with the whole event, and on PHP 8 throws on `1:2:3:4:5:6:7:8:9::`.
	 */
	public static function address( string $ip ): string {
		return (string) filter_var( trim( $ip ), FILTER_VALIDATE_IP );
	}

	/**
	 * The attribution to send for an order: its own, else what a filter finds
	 * (Subscriptions: the subscription's, for a renewal).
	 *
	 * @param \WC_Order $order
	 * @return array{tap_data?: string, ip?: string, user_agent?: string}
	 */
	public static function for_order( $order ): array {
		$record = $order->get_meta( self::META );
		$record = is_array( $record ) ? $record : array();
		return (array) apply_filters( 'tapline_order_attribution', $record, $order );
	}
}
