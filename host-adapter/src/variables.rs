//! `fermyon:spin/variables@2.0.0`: a component reads the variables its
//! manifest gives it (`[component.<id>.variables]`, resolved at start from
//! `[variables]` and `SPIN_VARIABLE_<NAME>`), the way spin-sdk's
//! `variables::get` expects.

use wasmtime::component::{HasSelf, Linker};

use crate::postgres::bindings::fermyon::spin::variables::{self, Error};
use crate::runtime::GuestState;

pub fn add_to_linker(linker: &mut Linker<GuestState>) -> wasmtime::Result<()> {
    variables::add_to_linker::<GuestState, HasSelf<GuestState>>(linker, |s| s)
}

impl variables::Host for GuestState {
    async fn get(&mut self, name: String) -> wasmtime::Result<Result<String, Error>> {
        if !crate::manifest::is_variable_name(&name) {
            return Ok(Err(Error::InvalidName(format!(
                "`{name}`: variable names are lowercase letters, digits and '_', starting with a letter"
            ))));
        }
        Ok(self.variables.get(&name).cloned().ok_or_else(|| Error::Undefined(format!("no variable `{name}`"))))
    }
}
