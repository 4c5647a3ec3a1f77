(window as any).tap = (window as any).tap || function () {};
