<?php
/**
 * A WooCommerce refund, full or partial, takes the affiliate's commission back
 * (docs/reference.md, "Refunds").
 *
 * @package Tapline
 */

namespace Tapline\Orders;

final class Refunds {

	public function __construct( private Outbox $outbox ) {}

	public function register(): void {
		// After each refund is saved (wc_create_refund).
		add_action( 'woocommerce_order_refunded', array( $this, 'refunded' ), 10, 2 );
	}

	public function refunded( $order_id, $refund_id ): void {
		$order = wc_get_order( $order_id );
		// An order that was never counted (an admin order, by the setting) has nothing to take back.
		if ( ! $order || 'skipped' === $order->get_meta( Outbox::SENT ) ) {
			return;
		}
		$this->outbox->add_refund( (int) $order_id, (int) $refund_id );
	}
}
