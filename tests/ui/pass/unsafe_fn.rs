#![deny(warnings)]
use langfuse_runtime::observe;

#[observe]
unsafe fn read(ptr: *const u32) -> u32 {
    // SAFETY: the caller passes a valid pointer.
    unsafe { *ptr }
}

#[observe]
unsafe fn write(ptr: *mut u32, value: u32) {
    // SAFETY: the caller passes a valid pointer.
    unsafe { *ptr = value }
}

#[observe]
extern "C" fn c_abi(x: u32) -> u32 {
    x + 1
}

fn main() {
    let mut x = 1;
    // SAFETY: `x` is a live local.
    unsafe {
        write(&mut x, 2);
        assert_eq!(read(&x), 2);
    }
    assert_eq!(c_abi(1), 2);
}
