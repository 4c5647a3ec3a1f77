<?php
/**
 * WooCommerce Subscriptions: a renewal order is attributed by its
 * subscription's attribution (copied there from the parent order at checkout,
 * or the parent order's own), and the "already sent" marker is never copied
 * onto a renewal, which would keep it from being sent.
 *
 * @package Tapline
 */

namespace Tapline\Orders;

final class Subscriptions {

	/** Meta the plugin writes that describes one order only. */
	private const ORDER_ONLY = array( Outbox::SENT, Outbox::ATTEMPTS );

	public function register(): void {
		add_filter( 'tapline_order_attribution', array( $this, 'from_subscription' ), 10, 2 );
		// Subscriptions copies the subscription's meta onto each renewal order: older releases pass rows
		// through wcs_renewal_order_meta, newer ones an array keyed by meta key through wc_subscriptions_renewal_order_data.
		add_filter( 'wcs_renewal_order_meta', array( $this, 'drop_rows' ) );
		add_filter( 'wc_subscriptions_renewal_order_data', array( $this, 'drop_keys' ) );
	}

	/** @param \WC_Order $order */
	public function from_subscription( array $record, $order ): array {
		if ( ! empty( $record['tap_data'] ) || ! function_exists( 'wcs_order_contains_renewal' ) || ! wcs_order_contains_renewal( $order ) ) {
			return $record;
		}
		foreach ( wcs_get_subscriptions_for_renewal_order( $order ) as $subscription ) {
			foreach ( array( $subscription, $subscription->get_parent() ) as $source ) {
				$found = $source ? $source->get_meta( Attribution::META ) : null;
				if ( is_array( $found ) && ! empty( $found['tap_data'] ) ) {
					return $found;
				}
			}
		}
		return $record;
	}

	public function drop_rows( $rows ) {
		return is_array( $rows ) ? array_values( array_filter( $rows, static fn ( $row ) => ! in_array( $row['meta_key'] ?? null, self::ORDER_ONLY, true ) ) ) : $rows;
	}

	public function drop_keys( $data ) {
		return is_array( $data ) ? array_diff_key( $data, array_flip( self::ORDER_ONLY ) ) : $data;
	}
}
