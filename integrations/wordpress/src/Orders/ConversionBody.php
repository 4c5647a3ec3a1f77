<?php
/**
 * What a paid order and a refund send to the worker (docs/reference.md,
 * "Server events" and "Refunds").
 *
 * The amount is the commission base Tapfiliate's own WooCommerce integration
 * uses: the goods after discounts, without tax, shipping and fees
 * (subtotal − discount, both without tax).
 *
 * @package Tapline
 */

namespace Tapline\Orders;

final class ConversionBody {

	/**
	 * The order's own fields, as the thank-you page signs them too.
	 *
	 * @param \WC_Order $order
	 */
	public static function order_fields( $order ): array {
		$fields = array(
			'external_id' => (string) $order->get_order_number(),
			'amount'      => self::goods( $order ),
			'currency'    => $order->get_currency(),
		);
		if ( $order->get_customer_id() ) {
			$fields['customer_id'] = (string) $order->get_customer_id();
		}
		$coupons = $order->get_coupon_codes();
		if ( $coupons ) {
			// A coupon outranks the referral link at Tapfiliate: the first one, as Tapfiliate's integration sends.
			$fields['coupon'] = (string) reset( $coupons );
		}
		return $fields;
	}

	/**
	 * The server event: the order's fields and the attribution kept at checkout.
	 * An `ip` that is not an address the worker takes (WooCommerce records a
	 * proxy's X-Real-IP header as it came: "unknown", "a, b", "01.2.3.4") is left
	 * out, as for an admin order: the worker would refuse the whole event for it
	 * (docs/guides/wordpress-woocommerce.md). Checked again here for orders kept
	 * before Attribution checked it as the worker does.
	 */
	public static function conversion( $order ): array {
		$body = self::order_fields( $order );
		foreach ( Attribution::for_order( $order ) as $name => $value ) {
			if ( 'ip' === $name && is_string( $value ) ) {
				$value = Attribution::address( $value );
			}
			if ( in_array( $name, array( 'tap_data', 'ip', 'user_agent' ), true ) && is_string( $value ) && '' !== $value ) {
				$body[ $name ] = $value;
			}
		}
		return $body;
	}

	/**
	 * A refund: its id, and the goods it took back. A refund that completes the
	 * order's refund leaves the amount out, which the worker reads as "the rest".
	 *
	 * @param \WC_Order        $order
	 * @param \WC_Order_Refund $refund
	 */
	public static function refund( $order, $refund ): array {
		$body = array(
			'external_id' => (string) $order->get_order_number(),
			'refund_id'   => 'wc-refund-' . $refund->get_id(),
			'currency'    => $order->get_currency(),
		);
		if ( ! self::completes_refund( $order ) ) {
			// Never null here: Refunds sends only a refund that takes_commission().
			$body['amount'] = self::refunded_goods( $order, $refund ) ?? 0.0;
		}
		return $body;
	}

	/**
	 * Whether a refund changes the commission: it takes goods back, or it
	 * completes the order's refund. One that returns only shipping, fees or
	 * tax leaves it alone, as the worker does for Shopify (docs/reference.md, "Refunds").
	 */
	public static function takes_commission( $order, $refund ): bool {
		return self::completes_refund( $order ) || null !== self::refunded_goods( $order, $refund );
	}

	private static function completes_refund( $order ): bool {
		return (float) $order->get_remaining_refund_amount() <= 0;
	}

	/**
	 * The goods a refund took back: its product lines after discounts; for a
	 * refund that lists no lines (an amount typed in), its share of the goods,
	 * as the worker does for Stripe and Shopify. Null for one whose lines are
	 * shipping, fees, or a product's tax alone (a product line with a total of 0).
	 */
	private static function refunded_goods( $order, $refund ): ?float {
		$goods = 0.0;
		foreach ( $refund->get_items( 'line_item' ) as $item ) {
			$goods += -(float) $item->get_total();
		}
		if ( $goods > 0 ) {
			return round( $goods, 2 );
		}
		if ( $refund->get_items( array( 'line_item', 'shipping', 'fee' ) ) ) {
			return null;
		}
		$total = (float) $order->get_total();
		return round( $total > 0 ? (float) $refund->get_amount() * self::goods( $order ) / $total : 0.0, 2 );
	}

	private static function goods( $order ): float {
		return round( max( 0.0, (float) $order->get_subtotal() - (float) $order->get_discount_total() ), 2 );
	}
}
