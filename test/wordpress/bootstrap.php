<?php
/**
 * PHPUnit's bootstrap: WordPress as test/wordpress/site.ts installed it,
 * loaded with the plugin active, in this process.
 */

$root = getenv( 'TAPLINE_WP_ROOT' ) ?: exit( "TAPLINE_WP_ROOT is not set: run the suite through npm test (test/wordpress/wordpress.test.ts)\n" );
$site                    = parse_url( getenv( 'TAPLINE_WP_SITE' ) );
$_SERVER['HTTP_HOST']    = $site['host'] . ':' . $site['port'];
$_SERVER['REQUEST_URI']  = '/';
$_SERVER['SERVER_NAME']  = $site['host'];
$_SERVER['REMOTE_ADDR']  = '203.0.113.7';
$_SERVER['HTTP_USER_AGENT'] = 'Mozilla/5.0 (tapline test shopper)';
require $root . '/wp-load.php';
require __DIR__ . '/tests/TestCase.php';
